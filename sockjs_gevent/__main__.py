"""Command line: serve a SockJS handler or a WSGI app on gevent.

    python -m sockjs_gevent myapp:echo --prefix /echo --port 8080
    python -m sockjs_gevent myapp:app --port 8080        # a SockJS, Router or any WSGI app
    python -m sockjs_gevent myapp:create_app             # a factory returning one
"""

from __future__ import annotations

# Before the user's module (and redis, database drivers...) is imported, so
# their blocking I/O cooperates with the event loop.
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import importlib  # noqa: E402
import inspect  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from typing import Any, Optional  # noqa: E402

from .app import SockJS  # noqa: E402
from .channels import default_hub  # noqa: E402
from .channels.redis import URL_ENV as REDIS_URL_ENV  # noqa: E402
from .router import Router  # noqa: E402
from .server import add_server_arguments, print_ready, serve, server_options  # noqa: E402


def load(target: str) -> Any:
    """Import ``module:attribute`` (the module may be a file path without .py)."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"TARGET must look like 'module:name', got {target!r}")
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"cannot import {module_name!r}: {exc}") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise SystemExit(f"{module_name!r} has no attribute {attribute!r}") from None


def _required_positional(obj: Any) -> Optional[int]:
    try:
        parameters = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return None
    return len([p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty])


def is_handler(obj: Any) -> bool:
    """A SockJS handler takes one argument (the connection); WSGI apps take two."""
    return not isinstance(obj, (SockJS, Router)) and _required_positional(obj) == 1


def is_factory(obj: Any) -> bool:
    """An app factory takes no arguments and returns the app."""
    return inspect.isfunction(obj) and _required_positional(obj) == 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sockjs_gevent", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", help="module:name of a handler function or a WSGI app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--freeze-gc", action="store_true",
                        help="freeze what survives each full GC pass: short pauses with many sessions (see sockjs_gevent.gcfreeze)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--prefix", default="", help="base URL when TARGET is a handler, e.g. /echo")
    parser.add_argument("--log-level", default="INFO")
    add_server_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.environ.get(REDIS_URL_ENV):
        # Subscribe before taking traffic, so no early broadcast is missed.
        backend = default_hub().backend
        if not backend.connected.wait(5.0):  # type: ignore[attr-defined]
            logging.getLogger("sockjs_gevent").warning("Redis not reachable yet; serving anyway, will keep retrying")
    obj = load(args.target)
    if is_factory(obj):
        obj = obj()
    app = SockJS(obj, prefix=args.prefix) if is_handler(obj) else obj
    serve(app, args.host, args.port, ready=print_ready, freeze_gc=args.freeze_gc, **server_options(args))


if __name__ == "__main__":
    main()
