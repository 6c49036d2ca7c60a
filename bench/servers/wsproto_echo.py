"""A bare WebSocket echo WSGI app on wsproto, driven like sockjs_gevent/websocket (engine 3 of ws_engines.py).

    python -m bench.servers.wsproto_echo [--port 0]

For the engine comparison only. Under gevent's pywsgi (the project's
``make_server``), the app validates the upgrade with wsproto's
H11Handshake, answers 101 through ``start_response``, then moves bytes
between ``wsgi.input`` and wsproto's Connection. ``/echo/websocket``
echoes text messages; ``/close/websocket`` closes with 3000 "Go away!".
No message size limit is set: wsproto offers none.
"""

from __future__ import annotations

import argparse
import logging
import socket
from http import HTTPStatus

from wsproto import ConnectionType
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.handshake import H11Handshake
from wsproto.utilities import RemoteProtocolError

from sockjs_gevent.peerwatch import find_socket
from sockjs_gevent.responses import not_found
from sockjs_gevent.server import make_server

READ_SIZE = 65536
MAX_READS = 100_000_000  # per connection: a bound, never reached in a run
CLOSE_WAIT = 5.0


def request_bytes(environ) -> bytes:
    """The upgrade request as wsproto's HTTP parser wants it."""
    path = environ.get("PATH_INFO", "/")
    if environ.get("QUERY_STRING"):
        path += "?" + environ["QUERY_STRING"]
    lines = [f"{environ.get('REQUEST_METHOD', 'GET')} {path} HTTP/1.1"]
    lines += [f"{k[5:].replace('_', '-')}: {v}" for k, v in environ.items() if k.startswith("HTTP_")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def handshake(environ):
    """(wsproto Connection, 101 headers), or (None, HTTP status to refuse with)."""
    shake = H11Handshake(ConnectionType.SERVER)
    try:
        shake.receive_data(request_bytes(environ))
        events = list(shake.events())
    except RemoteProtocolError as exc:
        hint = exc.event_hint
        return None, hint.status_code if isinstance(hint, RejectConnection) else 400
    if not events or not isinstance(events[0], Request):
        return None, 400
    response = shake.send(AcceptConnection()).decode("latin-1")
    headers = [tuple(p.strip() for p in line.split(":", 1)) for line in response.split("\r\n")[1:] if ":" in line]
    return shake.connection, headers


def serve(conn, read, write, closing: bool) -> None:
    """Echo text messages (or close at once if ``closing``) until the close handshake or EOF."""
    if closing:
        write(conn.send(CloseConnection(code=3000, reason="Go away!")))
    parts: list[str] = []
    for _ in range(MAX_READS):
        if conn.state is ConnectionState.CLOSED:
            return
        try:
            data = read(READ_SIZE)
        except OSError:
            data = b""
        conn.receive_data(data or None)
        out = []
        for event in conn.events():
            if isinstance(event, TextMessage):
                parts.append(event.data)
                if event.message_finished:
                    out.append(conn.send(TextMessage(data="".join(parts))))
                    parts = []
            elif isinstance(event, BytesMessage):
                out.append(conn.send(CloseConnection(code=1003, reason="Binary messages are not supported")))
            elif isinstance(event, Ping):
                out.append(conn.send(event.response()))
            elif isinstance(event, CloseConnection) and conn.state is ConnectionState.REMOTE_CLOSING:
                out.append(conn.send(event.response()))
        if out:
            write(b"".join(out))
        if not data:
            return


def refuse(start_response, status: int):
    body = b"Not a valid websocket request"
    start_response(
        f"{status} {HTTPStatus(status).phrase}", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    )
    return [body]


def app(environ, start_response):
    path = environ.get("PATH_INFO")
    if path not in ("/echo/websocket", "/close/websocket"):
        return not_found(environ, start_response)
    conn, headers = handshake(environ)
    if conn is None:
        return refuse(start_response, headers)
    write = start_response("101 Switching Protocols", headers)
    write(b"")
    stream = environ["wsgi.input"]
    sock = find_socket(environ)
    sock.settimeout(CLOSE_WAIT if path == "/close/websocket" else None)
    try:
        serve(conn, getattr(stream, "read1", stream.read), write, closing=path == "/close/websocket")
    finally:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # the connection is no longer HTTP
        except OSError:
            pass
    return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    logging.basicConfig(level=logging.WARNING)
    server = make_server(app, "127.0.0.1", parser.parse_args().port)
    server.start()
    print(f"wsproto-echo listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
