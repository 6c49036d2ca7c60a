"""A chat room in the browser: the demo of sockjs-gevent.

    python examples/chat/server.py --port 8080     # then open http://127.0.0.1:8080/

The page loads sockjs-client from the npm copy in node_modules/ (run
``npm install`` at the repo root first; scripts/demo.sh does it for you).
Everyone connected to /chat sees every message; pick a transport on the page
to watch the same chat run over websocket, streaming or polling. With
prometheus_client installed, GET /metrics gives the service's metrics
(examples/prometheus.yml scrapes the workers of examples/cluster/run.sh).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # first: whatever a handler calls (HTTP, databases, sleep) must cooperate with gevent

import argparse
import logging
import os
from collections.abc import Iterable

from werkzeug.middleware.shared_data import SharedDataMiddleware

from sockjs_gevent import Connection, Router, SockJS, channels
from sockjs_gevent.server import print_ready, serve

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SOCKJS_CLIENT = os.path.join(ROOT, "node_modules", "sockjs-client", "dist", "sockjs.min.js")


def chat(conn: Connection) -> None:
    """One room: every message goes to everyone in it."""
    room = channels.channel("lobby")
    room.join(conn)  # leaves by itself when the connection closes
    room.publish(f"* someone joined over {conn.transport} ({len(room)} here)")
    for message in conn:
        room.publish(message[:2000])
    room.publish(f"* someone left ({len(room)} here)")  # it has already left


def page(environ, start_response) -> Iterable[bytes]:
    """The chat page at /, 404 elsewhere."""
    if environ.get("PATH_INFO") not in ("", "/"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not found.\n"]
    with open(os.path.join(HERE, "index.html"), "rb") as f:
        body = f.read()
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def with_metrics(service: SockJS, app):
    """GET /metrics for Prometheus before ``app``, if prometheus_client is installed.

    Behind examples/haproxy.cfg only operators reach it: HAProxy refuses
    /metrics, Prometheus scrapes each worker's own port.
    """
    try:
        from sockjs_gevent.metrics import metrics_app

        metrics = metrics_app(service)
    except ImportError:  # pip install 'sockjs-gevent[prometheus]' for it
        return app

    def route(environ, start_response) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/metrics":
            return metrics(environ, start_response)
        return app(environ, start_response)

    return route


def build_app() -> Router:
    """The chat service at /chat plus the page and sockjs-client as static files (and /metrics)."""
    if not os.path.exists(SOCKJS_CLIENT):
        raise SystemExit(f"sockjs-client not found at {SOCKJS_CLIENT}: run `npm install` in {ROOT}")
    static = SharedDataMiddleware(page, {"/static/sockjs.min.js": SOCKJS_CLIENT})
    service = SockJS(chat, prefix="/chat", sockjs_url="/static/sockjs.min.js")
    return Router([service], fallback=with_metrics(service, static))


def main() -> None:
    parser = argparse.ArgumentParser(description="sockjs-gevent chat demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(build_app(), args.host, args.port, ready=print_ready)


if __name__ == "__main__":
    main()
