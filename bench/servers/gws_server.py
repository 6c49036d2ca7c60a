"""The test server's services under gevent-websocket's handler (engine 1 of ws_engines.py).

    python -m bench.servers.gws_server [--port 0]

Serves ``sockjs_gevent.testserver.build()`` with
``geventwebsocket.handler.WebSocketHandler``, so ``/echo/websocket`` and
``/close/websocket`` run through SockJS's GeventWebSocketAdapter. Also
``/bare/websocket``: a bare echo on ``environ['wsgi.websocket']`` with no
SockJS session layer, to measure the engine alone.
"""

from __future__ import annotations

import argparse
import logging

from gevent.pywsgi import WSGIServer
from geventwebsocket.handler import WebSocketHandler

from sockjs_gevent.testserver import build

MAX_MESSAGES = 100_000_000  # per connection: a bound, never reached in a run


def bare_echo(environ, start_response):
    """Echo every message until the client closes."""
    ws = environ["wsgi.websocket"]
    for _ in range(MAX_MESSAGES):
        message = ws.receive()
        if message is None:
            break
        ws.send(message)
    return []


def make_app():
    sockjs = build()

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/bare/websocket" and environ.get("wsgi.websocket") is not None:
            return bare_echo(environ, start_response)
        return sockjs(environ, start_response)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    logging.basicConfig(level=logging.WARNING)
    server = WSGIServer(("127.0.0.1", parser.parse_args().port), make_app(), handler_class=WebSocketHandler, log=None)
    server.start()
    print(f"gevent-websocket listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
