"""Command line: serve a SockJS handler or a WSGI app on gevent.

    python -m sockjs_gevent myapp:echo --prefix /echo --port 8080
    python -m sockjs_gevent myapp:app --port 8080        # a SockJS, Router or any WSGI app
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import os
import sys
from typing import Any

from .app import SockJS
from .router import Router
from .server import print_ready, serve


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


def is_handler(obj: Any) -> bool:
    """A SockJS handler takes one argument (the connection); WSGI apps take two."""
    if isinstance(obj, (SockJS, Router)):
        return False
    try:
        params = [
            p for p in inspect.signature(obj).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
    except (TypeError, ValueError):
        return False
    return len(params) == 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sockjs_gevent", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", help="module:name of a handler function or a WSGI app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--prefix", default="", help="base URL when TARGET is a handler, e.g. /echo")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    obj = load(args.target)
    app = SockJS(obj, prefix=args.prefix) if is_handler(obj) else obj
    serve(app, args.host, args.port, ready=print_ready)


if __name__ == "__main__":
    main()
