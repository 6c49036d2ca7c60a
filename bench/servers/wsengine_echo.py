"""The project's engine (``sockjs_gevent.websocket``, websockets' sans-I/O ServerProtocol) as a bare echo.

    python -m bench.servers.wsengine_echo [--port 0]

No SockJS session layer: ``/echo/websocket`` echoes each text message,
``/close/websocket`` closes with 3000 "Go away!". Served like the test
server (``sockjs_gevent.server.make_server``), max message size 1 MiB as
the project's default. Engine 2 "bare" of ws_engines.py.
"""

from __future__ import annotations

import argparse
import logging

from sockjs_gevent.responses import not_found
from sockjs_gevent.server import make_server
from sockjs_gevent.websocket import EventLoopWebSocket, accept

MAX_MESSAGE_SIZE = 1024 * 1024
MAX_MESSAGES = 100_000_000  # per connection: a bound, never reached in a run


def app(environ, start_response):
    path = environ.get("PATH_INFO")
    if path not in ("/echo/websocket", "/close/websocket"):
        return not_found(environ, start_response)
    handshake = accept(environ, start_response, MAX_MESSAGE_SIZE)
    ws = handshake.websocket
    if ws is None:
        return handshake.answer  # the 400 answer
    if path == "/close/websocket":
        ws.close(3000, "Go away!")
    if isinstance(ws, EventLoopWebSocket):
        ws.start(Echo(ws), handshake.pending)  # read from the event loop
        return handshake.answer
    for _ in range(MAX_MESSAGES):  # read by this greenlet (another server's handler)
        message = ws.receive()
        if message is None:
            break
        ws.send(message)
    ws.finish()
    return handshake.answer


class Echo:
    """Sends every message back; closes the socket when the client is done."""

    def __init__(self, ws: EventLoopWebSocket) -> None:
        self.ws = ws

    def on_message(self, text: str) -> None:
        self.ws.send(text)

    def on_end(self) -> None:
        self.ws.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    logging.basicConfig(level=logging.WARNING)
    server = make_server(app, "127.0.0.1", parser.parse_args().port)
    server.start()
    print(f"wsengine-echo listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
