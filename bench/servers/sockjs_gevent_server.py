"""sockjs-gevent as bench/bench.py runs it beside the peers: SockJS /echo and /broadcast.

    .venv/bin/python -m bench.servers.sockjs_gevent_server [--port 0] [--app sockjs|hello]
        [--server NAME] [--serve-option KEY=VALUE ...]

``--app sockjs`` (the default): default options (as the peers in
bench/peers/ run theirs; the test server's /echo has a 4 KiB
response_limit, this one the default 128 KiB), plus ``GET /stats``.
``--app hello``: a WSGI app answering "ok" (2 bytes) to any request, for
the plain-HTTP row. Either is run by ``serve()``, given ``server=NAME``
(serve()'s choice of HTTP server, where it has one) and any
``--serve-option`` (VALUE read as JSON when it parses, else as a string).
A serve() without the ``server`` keyword only has pywsgi: ``--server
pywsgi`` then runs it as is, another name is an error. Prints
``sockjs-gevent listening on http://127.0.0.1:PORT``.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # first: whatever a handler calls (HTTP, databases, sleep) must cooperate with gevent

import argparse
import inspect
import json
import logging
import resource
import sys
from typing import Any

from sockjs_gevent import Router, SockJS, channels, serve
from sockjs_gevent.responses import not_found
from sockjs_gevent.server import print_ready
from sockjs_gevent.stats import stats_app


def echo(conn) -> None:
    for message in conn:
        conn.send(message)


def broadcast(conn) -> None:
    everyone = channels.channel("bench-broadcast")
    everyone.join(conn)
    for message in conn:
        everyone.publish(message)


def build() -> Router:
    services = [SockJS(echo, "/echo"), SockJS(broadcast, "/broadcast")]
    stats = stats_app(*services)

    def fallback(environ, start_response):
        if environ.get("PATH_INFO") == "/stats":
            return stats(environ, start_response)
        return not_found(environ, start_response)

    return Router(services, fallback=fallback)


def hello(environ, start_response):
    """The plain-HTTP row's app: 2 bytes, whatever was asked."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def serve_options(server: str | None, options: list[str]) -> dict[str, Any]:
    """serve()'s keywords from the command line; a ``server`` it cannot take is dropped only if pywsgi."""
    kwargs: dict[str, Any] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep:
            sys.exit(f"--serve-option takes KEY=VALUE, not {option!r}")
        try:
            kwargs[key] = json.loads(value)
        except ValueError:
            kwargs[key] = value
    if server is not None:
        if "server" in inspect.signature(serve).parameters:
            kwargs["server"] = server
        elif server != "pywsgi":
            sys.exit(f"this sockjs_gevent's serve() has no server= choice (pywsgi only); cannot run {server!r}")
    return kwargs


def raise_nofile_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--app", choices=("sockjs", "hello"), default="sockjs")
    parser.add_argument("--server", help="serve(server=...): which HTTP server, where serve() offers a choice")
    parser.add_argument(
        "--serve-option", action="append", default=[], metavar="KEY=VALUE", help="another serve() keyword"
    )
    args = parser.parse_args()
    kwargs = serve_options(args.server, args.serve_option)
    logging.basicConfig(level=logging.WARNING)
    raise_nofile_limit()
    serve(build() if args.app == "sockjs" else hello, "127.0.0.1", args.port, ready=print_ready, **kwargs)


if __name__ == "__main__":
    main()
