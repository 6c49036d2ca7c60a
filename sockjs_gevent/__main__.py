"""Serve a SockJS handler or a WSGI app on gevent, from the command line.

    python -m sockjs_gevent myapp:echo --prefix /echo --port 8080
    python -m sockjs_gevent ./myapp.py:echo --prefix /echo --heartbeat-delay 10
    python -m sockjs_gevent myapp:app --port 8080        # a SockJS, Router or any WSGI app
    python -m sockjs_gevent myapp:create_app             # a factory returning one

It monkey-patches the standard library with gevent before importing
TARGET, so blocking libraries a handler calls (HTTP clients, database
drivers, time.sleep) cooperate with the event loop. Mistakes (a TARGET
that cannot be imported, a bad option, a port in use) are one line on
stderr and exit status 2.
"""

from __future__ import annotations

# Before the user's module (and redis, database drivers...) is imported, so
# their blocking I/O cooperates with the event loop.
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import inspect  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from typing import Any, NoReturn  # noqa: E402

from .app import SockJS  # noqa: E402
from .buildinfo import version_line  # noqa: E402
from .callables import check_wsgi_app, looks_like_handler  # noqa: E402
from .channels import wait_for_bus  # noqa: E402
from .cli import (  # noqa: E402
    CommandLineParser,
    UsageError,
    add_option_arguments,
    add_server_arguments,
    check_server_arguments,
    check_worker_arguments,
    is_runner,
    log_level,
    options_from_arguments,
    port_number,
    ready_callback,
    run_workers,
    serve_command,
    server_options,
)
from .options import OptionsError  # noqa: E402
from .router import Router  # noqa: E402
from .server import LOG_FORMAT  # noqa: E402
from .workers import announce_ready, runner_ready  # noqa: E402


def load(target: str) -> Any:
    """Import ``module:attribute``; the module may be a dotted name or a file path (``./app.py``)."""
    module_name, _, attribute = target.rpartition(":")
    if not module_name or not attribute:
        raise UsageError(f"TARGET must look like 'module:name' or 'path/to/file.py:name', got {target!r}")
    if module_name.endswith(".py") or os.sep in module_name:
        path = module_name if module_name.endswith(".py") else module_name + ".py"
        if not os.path.isfile(path):
            raise UsageError(f"no such file: {path}")
        spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
        spec.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise UsageError(f"cannot import {module_name!r}: {exc}") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise UsageError(f"{module_name!r} has no attribute {attribute!r}") from None


def is_handler(obj: Any) -> bool:
    """A SockJS handler takes one argument (the connection); WSGI apps take two."""
    return not isinstance(obj, (SockJS, Router)) and looks_like_handler(obj)


def is_factory(obj: Any) -> bool:
    """An app factory takes no arguments and returns the app."""
    if not inspect.isfunction(obj):
        return False
    try:
        parameters = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return False
    return not [
        p for p in parameters if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def build_app(target: str, prefix: str | None, options: dict[str, Any]) -> Any:
    """The WSGI app TARGET names: a handler is wrapped in a SockJS service."""
    obj = load(target)
    if is_factory(obj):
        obj = obj()
    if is_handler(obj):
        try:
            return SockJS(obj, prefix=prefix or "", **options)
        except (OptionsError, TypeError) as exc:
            raise UsageError(str(exc)) from None
    try:
        check_wsgi_app(obj, target)
    except TypeError as exc:
        raise UsageError(str(exc)) from None
    if prefix is not None or options:
        given = ["--prefix"] * (prefix is not None) + ["--" + name.replace("_", "-") for name in options]
        flags = given[0] if len(given) == 1 else f"{', '.join(given[:-1])} and {given[-1]}"
        verb, them = ("applies", "it") if len(given) == 1 else ("apply", "them")
        raise UsageError(
            f"{flags} {verb} to a handler function; {target} is a WSGI app: "
            f"set {them} where it builds its SockJS services"
        )
    return obj


def parser() -> argparse.ArgumentParser:
    parser = CommandLineParser(
        prog="python -m sockjs_gevent", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", help="module:name (or path/to/file.py:name) of a handler function or a WSGI app")
    parser.add_argument("--version", action="version", version=version_line())
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=8080, help="port to listen on (default 8080; 0 picks one)")
    parser.add_argument("--prefix", default=None, help="base URL when TARGET is a handler, e.g. /echo (default: root)")
    parser.add_argument(
        "--freeze-gc",
        action="store_true",
        help="freeze what survives each full GC pass: short pauses with many sessions (see sockjs_gevent.gcfreeze)",
    )
    parser.add_argument(
        "--log-level",
        type=log_level,
        default="INFO",
        help="logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)",
    )
    add_option_arguments(parser)
    add_server_arguments(parser)
    return parser


def fail(message: str) -> NoReturn:
    sys.stderr.write(f"python -m sockjs_gevent: error: {message}\n")
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format=LOG_FORMAT)
    ready = announce_ready(args, ready_callback(args))  # (a worker tells its runner)
    try:
        problem = check_worker_arguments(args)
        if problem:
            raise UsageError(problem)
        if is_runner(args):
            check_server_arguments(args)
            raise SystemExit(run_workers("sockjs_gevent", argv, args, runner_ready))
        app = build_app(args.target, args.prefix, options_from_arguments(args))
        wait_for_bus()  # subscribed to Redis before taking traffic, so no early broadcast is missed
        extra = server_options(args)
        serve_command(app, args.host, args.port, ready=ready, freeze_gc=args.freeze_gc, **extra)
    except (UsageError, OptionsError) as exc:
        fail(str(exc))


if __name__ == "__main__":
    main()
