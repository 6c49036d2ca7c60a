"""Three streams over one SockJS connection: a chat room, a ticker and a shouter.

    python examples/multiplex/server.py --port 8080     # then open http://127.0.0.1:8080/

The page opens one SockJS connection to /mux and three channels on it with
websocket-multiplex's browser client (multiplex_client.js). Both it and
sockjs-client are served from node_modules/ (run ``npm install`` at the repo
root first, or ``bash scripts/bootstrap.sh``).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # first: whatever a handler calls (HTTP, databases, sleep) must cooperate with gevent

import argparse
import logging
import os
import time
from collections.abc import Iterable

from werkzeug.middleware.shared_data import SharedDataMiddleware

from sockjs_gevent import Router, SockJS
from sockjs_gevent.multiplex import Multiplexer, Stream
from sockjs_gevent.server import print_ready, serve

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SOCKJS_CLIENT = os.path.join(ROOT, "node_modules", "sockjs-client", "dist", "sockjs.min.js")
MULTIPLEX_CLIENT = os.path.join(ROOT, "node_modules", "websocket-multiplex", "multiplex_client.js")

mux = Multiplexer()


@mux.stream("chat")
def chat(stream: Stream) -> None:
    """Every message to everyone in the room (a pub/sub channel the stream joins)."""
    room = stream.channel("lobby")
    room.join(stream)  # leaves by itself when the stream closes
    room.publish(f"* someone joined ({len(room)} here)")
    for message in stream:
        room.publish(message[:2000])
    room.publish(f"* someone left ({len(room)} here)")


@mux.stream("ticker")
def ticker(stream: Stream) -> None:
    """The server's clock, now and then every second, until the page unsubscribes."""
    while not stream.closed:
        stream.send(time.strftime("%H:%M:%S"))
        try:
            stream.recv(timeout=1.0)  # ends early when the stream closes
        except TimeoutError:
            pass


@mux.stream("shout")
def shout(stream: Stream) -> None:
    """Each message back in capitals; "bye" makes the server close this stream."""
    for message in stream:
        if message.strip().lower() == "bye":
            stream.send("BYE!")
            stream.close()
        else:
            stream.send(message.upper())


def page(environ, start_response) -> Iterable[bytes]:
    """The page at /, 404 elsewhere."""
    if environ.get("PATH_INFO") not in ("", "/"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not found.\n"]
    with open(os.path.join(HERE, "index.html"), "rb") as f:
        body = f.read()
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def build_app() -> Router:
    """The multiplexed service at /mux, plus the page and both browser clients as static files."""
    for path in (SOCKJS_CLIENT, MULTIPLEX_CLIENT):
        if not os.path.exists(path):
            raise SystemExit(f"{path} not found: run `npm install` in {ROOT}")
    static = SharedDataMiddleware(
        page,
        {
            "/static/sockjs.min.js": SOCKJS_CLIENT,
            "/static/multiplex_client.js": MULTIPLEX_CLIENT,
        },
    )
    service = SockJS(mux, prefix="/mux", sockjs_url="/static/sockjs.min.js")
    return Router([service], fallback=static)


def main() -> None:
    parser = argparse.ArgumentParser(description="sockjs-gevent multiplexing demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(build_app(), args.host, args.port, ready=print_ready)


if __name__ == "__main__":
    main()
