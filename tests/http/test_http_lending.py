"""Streaming answers written from the event loop: the socket lent and given back.

Under HttpServer a SockJS streaming answer sends its head and prelude from
the request's greenlet, borrows the socket (``LentSocket``) and the
greenlet ends; the frames are then written from the event loop and the
connection is given back for its next request once the answer is complete.
"""

from __future__ import annotations

import socket

import gevent
import pytest

from sockjs_gevent import SockJS
from sockjs_gevent.http import HttpConfig
from sockjs_gevent.session import INTERRUPTED
from tests.http.httpwire import Wire, settle

LIMIT = 4096
PRELUDE = b"h" * 2048 + b"\n"


def echo(conn):
    for message in conn:
        if message == "close":
            conn.close(3000, "Go away!")
        elif message.startswith("big "):
            conn.send("z" * int(message[4:]))
        else:
            conn.send(message)


def service(**options):
    options.setdefault("response_limit", LIMIT)
    return SockJS(echo, prefix="/echo", **options)


def wait_until(predicate, timeout: float = 5.0) -> None:
    with gevent.Timeout(timeout, AssertionError("condition not reached in time")):
        while not predicate():
            gevent.sleep(0.005)


def open_stream(server, sid: str, version: str = "HTTP/1.1", extra: str = "") -> Wire:
    wire = Wire(server)
    wire.send(f"POST /echo/000/{sid}/xhr_streaming {version}\r\nHost: t\r\nContent-Length: 0\r\n{extra}\r\n".encode())
    return wire


def xhr_send(server, sid: str, message: str) -> None:
    body = f'["{message}"]'.encode()
    wire = Wire(server)
    wire.send(
        b"POST /echo/000/%s/xhr_send HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (sid.encode(), len(body), body)
    )
    head, _ = wire.response()
    assert head.status == 204
    wire.close()


def test_the_request_greenlet_ends_and_the_connection_serves_again_after_the_answer(start_server):
    app = service()
    server = start_server(app)
    wire = open_stream(server, "s1")
    head = wire.read_head()
    assert head.status == 200 and head.header("Transfer-Encoding") == "chunked"
    assert wire.read_chunk() == PRELUDE
    assert wire.read_chunk() == b"o\n"
    settle(server)  # no connection greenlet is left: the frames come from the event loop
    xhr_send(server, "s1", "hello")
    assert wire.read_chunk() == b'a["hello"]\n'
    xhr_send(server, "s1", "big 5000")  # crosses response_limit: the answer ends after this frame
    assert wire.read_chunk() == b'a["' + b"z" * 5000 + b'"]\n'
    assert wire.read_chunk() is None
    wire.get("/echo/info")  # keep-alive: the same connection takes the next request
    head, body = wire.response()
    assert head.status == 200 and b"websocket" in body
    wire.send(b"POST /echo/000/s1/xhr_streaming HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    assert wire.read_head().status == 200 and wire.read_chunk() == PRELUDE  # and the session goes on
    xhr_send(server, "s1", "again")
    assert wire.read_chunk() == b'a["again"]\n'
    wire.close()


@pytest.mark.parametrize("when", ["with the streaming request", "while it streams"])
def test_a_pipelined_request_is_answered_once_the_stream_ends(start_server, when):
    """Sent while the answer streams, it waits unread in the kernel for the connection given back;
    read already with the streaming request, the request's greenlet streams instead."""
    server = start_server(service())
    wire = Wire(server)
    info = b"GET /echo/info HTTP/1.1\r\nHost: t\r\n\r\n"
    stream = b"POST /echo/000/s2/xhr_streaming HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
    wire.send(stream + info if when == "with the streaming request" else stream)
    assert wire.read_head().status == 200 and wire.read_chunk() == PRELUDE and wire.read_chunk() == b"o\n"
    if when == "while it streams":
        wire.send(info)
    xhr_send(server, "s2", "big 5000")
    assert wire.read_chunk().startswith(b'a["zzz') and wire.read_chunk() is None
    head, _ = wire.response()
    assert head.status == 200
    wire.close()


def test_http10_stream_ends_with_the_connection(start_server):
    server = start_server(service())
    wire = open_stream(server, "s4", "HTTP/1.0")
    head = wire.read_head()
    assert head.status == 200 and head.header("Transfer-Encoding") is None and head.header("Connection") == "close"
    assert wire.read_exactly(len(PRELUDE) + 2) == PRELUDE + b"o\n"
    xhr_send(server, "s4", "big 5000")
    assert wire.read_to_close() == b'a["' + b"z" * 5000 + b'"]\n'


def test_heartbeats_and_a_server_close_reach_a_lent_stream(start_server):
    server = start_server(service(heartbeat_delay=0.1))
    wire = open_stream(server, "s5")
    assert wire.read_head().status == 200 and wire.read_chunk() == PRELUDE and wire.read_chunk() == b"o\n"
    assert wire.read_chunk() == b"h\n"
    xhr_send(server, "s5", "close")
    assert wire.read_chunk() == b'c[3000,"Go away!"]\n'
    assert wire.read_chunk() is None
    wire.get("/echo/info")
    assert wire.response()[0].status == 200
    wire.close()


def test_a_client_that_hangs_up_ends_its_session_at_once(start_server):
    app = service()
    server = start_server(app)
    wire = open_stream(server, "s6")
    assert wire.read_head().status == 200 and wire.read_chunk() == PRELUDE and wire.read_chunk() == b"o\n"
    session = app.sessions.get("s6")
    wire.close()
    wait_until(lambda: session.closed)
    assert (session.close_code, session.close_reason) == INTERRUPTED
    assert app.stats.problems["aborted"] == 1


def test_a_client_that_stops_reading_is_dropped_after_the_write_timeout(start_server):
    """Frames wait in the session while one write waits in the socket; the write has a deadline."""
    app = service(response_limit=64 * 1024 * 1024, max_queued_bytes=64 * 1024 * 1024)
    config = HttpConfig(
        header_timeout=2.0, keepalive_timeout=2.0, body_timeout=2.0, write_timeout=0.3, linger_timeout=0.2
    )
    server = start_server(app, config)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.server_port))
    sock.sendall(b"POST /echo/000/s7/xhr_streaming HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    wait_until(lambda: app.sessions.get("s7") is not None)
    session = app.sessions.get("s7")
    xhr_send(server, "s7", "big 16000000")  # far more than the socket buffers hold; the client reads nothing
    wait_until(lambda: session.closed)
    assert (session.close_code, session.close_reason) == INTERRUPTED
    sock.settimeout(5)
    received = 0
    try:
        while True:
            data = sock.recv(1 << 20)
            if not data:
                break
            received += len(data)
    except ConnectionResetError:
        pass
    assert received < 16_000_000  # cut off, not delivered whole
    sock.close()
