"""The optional compiled build: which modules it compiles, and which of them run compiled here.

``SOCKJS_GEVENT_COMPILE=1 pip install sockjs-gevent`` compiles the modules
below with mypyc (setup.py reads this list), from the same sources the
interpreted install runs: the HTTP server's per-request path (with
``http/limits.py``, the config's values as a connection reads them), the
SockJS protocol, sessions and transports, the websocket path, and what they
call on every request (the process's budget, origins, cookies, counters).
Everything else (configuration, the command line, channels, gunicorn) stays
interpreted, and so do the classes a user may subclass or give attributes
(``Connection``, ``Router``, a multiplexed ``Stream``): a compiled class
takes neither. ``HttpConfig`` and ``Options`` stay interpreted so that a
wrong value gets their message, not the TypeError a compiled class raises
for an argument of the wrong type (a compiled function that checks what a
user gave it takes ``Any``). The socket I/O (``http/sockio.py``) stays
interpreted too: bench/inprocess.py replaces its wait with a stand-in
(docs/benchmarks.md, "The compiled build").

This module imports nothing of the package's dependencies: setup.py loads
it by path, before they are installed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
from collections.abc import Mapping

#: The modules a compiled build compiles (setup.py reads this list).
COMPILED_MODULES: tuple[str, ...] = (
    "sockjs_gevent.budget",
    "sockjs_gevent.cookies",
    "sockjs_gevent.http.connection",
    "sockjs_gevent.http.environ",
    "sockjs_gevent.http.input",
    "sockjs_gevent.http.limits",
    "sockjs_gevent.http.response",
    "sockjs_gevent.inbox",
    "sockjs_gevent.origins",
    "sockjs_gevent.protocol",
    "sockjs_gevent.responses",
    "sockjs_gevent.session",
    "sockjs_gevent.sockwriter",
    "sockjs_gevent.stats",
    "sockjs_gevent.transports",
    "sockjs_gevent.transports.base",
    "sockjs_gevent.transports.heartbeats",
    "sockjs_gevent.transports.lentstream",
    "sockjs_gevent.transports.outlets",
    "sockjs_gevent.transports.polling",
    "sockjs_gevent.transports.receiving",
    "sockjs_gevent.transports.sending",
    "sockjs_gevent.transports.service",
    "sockjs_gevent.transports.streaming",
    "sockjs_gevent.transports.websocket",
    "sockjs_gevent.waiting",
    "sockjs_gevent.websocket",
    "sockjs_gevent.websocket.adapter",
    "sockjs_gevent.websocket.base",
    "sockjs_gevent.websocket.blocking",
    "sockjs_gevent.websocket.engine",
    "sockjs_gevent.websocket.evented",
    "sockjs_gevent.websocket.handshake",
    "sockjs_gevent.websocket.writers",
)

#: The environment variable that asks setup.py for the compiled build.
COMPILE_VARIABLE = "SOCKJS_GEVENT_COMPILE"


def compile_requested(environ: Mapping[str, str]) -> bool:
    """Whether ``environ`` asks for the compiled build: COMPILE_VARIABLE is 1; unset, empty or 0 is no.

    Any other value stops the build (SystemExit) with what to write instead.
    """
    value = environ.get(COMPILE_VARIABLE, "")
    if value in ("", "0"):
        return False
    if value != "1":
        raise SystemExit(f"{COMPILE_VARIABLE} is 1 (compile) or 0 (do not), not {value!r}")
    return True


def runtime_requirements(root: str) -> list[str]:
    """The requirements of ``root``/requirements.txt: what an install needs, and what mypyc type-checks against."""
    with open(os.path.join(root, "requirements.txt"), encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def source_path(root: str, module: str) -> str:
    """The source file of ``module`` in the project at ``root`` (a package's is its ``__init__.py``)."""
    path = os.path.join(root, *module.split("."))
    return os.path.join(path, "__init__.py") if os.path.isdir(path) else path + ".py"


def compiled_modules() -> list[str]:
    """The modules of COMPILED_MODULES that this process runs compiled (imports them to look)."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return [name for name in COMPILED_MODULES if (importlib.import_module(name).__file__ or "").endswith(suffixes)]


def build_kind() -> str:
    """ "compiled", "interpreted", or "partly compiled (N of M modules)": what ``--version`` prints."""
    compiled = len(compiled_modules())
    if compiled == len(COMPILED_MODULES):
        return "compiled"
    if compiled == 0:
        return "interpreted"
    return f"partly compiled ({compiled} of {len(COMPILED_MODULES)} modules)"


def version_line() -> str:
    """What the command lines' ``--version`` prints: the version, and whether this install is compiled."""
    from . import __version__

    return f"sockjs-gevent {__version__} ({build_kind()})"
