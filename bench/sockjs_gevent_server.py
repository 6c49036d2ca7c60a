"""sockjs-gevent as bench/bench.py runs it beside the peers: SockJS /echo and /broadcast.

    .venv/bin/python bench/sockjs_gevent_server.py [--port 0]

Default options (as the peers in bench/peers/ run theirs; the test server's
/echo has a 4 KiB response_limit, this one the default 128 KiB), plus
``GET /stats``. Prints ``sockjs-gevent listening on http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import argparse
import logging
import resource

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
        return not_found(start_response)

    return Router(services, fallback=fallback)


def raise_nofile_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--server", choices=("httptools", "pywsgi"), default="httptools", help="the HTTP server under SockJS")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    raise_nofile_limit()
    serve(build(), "127.0.0.1", args.port, ready=print_ready, server=args.server)


if __name__ == "__main__":
    main()
