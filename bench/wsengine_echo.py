"""The project's engine (``sockjs_gevent.wsengine``, websockets' sans-I/O ServerProtocol) as a bare echo.

    python bench/wsengine_echo.py [--port 0]

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
from sockjs_gevent.wsengine import accept, is_websocket

MAX_MESSAGE_SIZE = 1024 * 1024
MAX_MESSAGES = 100_000_000  # per connection: a bound, never reached in a run


def app(environ, start_response):
    path = environ.get("PATH_INFO")
    if path not in ("/echo/websocket", "/close/websocket"):
        return not_found(environ, start_response)
    ws = accept(environ, start_response, MAX_MESSAGE_SIZE)
    if not is_websocket(ws):
        return ws  # the 400 answer
    if path == "/close/websocket":
        ws.close(3000, "Go away!")
    else:
        for _ in range(MAX_MESSAGES):
            message = ws.receive()
            if message is None:
                break
            ws.send(message)
    ws.finish()
    return []


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
