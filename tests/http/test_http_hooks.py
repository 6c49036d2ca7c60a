"""The hooks the SockJS transports use: the socket in the environ, handing it over, upgrades."""

from __future__ import annotations

import base64
import os
import socket

import gevent
import gevent.socket
from gevent.event import Event
from gevent.socket import wait_read

from sockjs_gevent import SockJS
from sockjs_gevent.peerwatch import SOCKET_KEY, TAKE_SOCKET_KEY
from tests.http.httpwire import Wire, settle


def test_the_server_does_not_read_the_socket_while_the_app_runs(start_server):
    """PeerWatch peeks at the socket: a pipelined request must still be there."""
    started = Event()
    peeked = []

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/wait":
            sock = environ[SOCKET_KEY]
            started.set()
            wait_read(sock.fileno(), timeout=5)
            peeked.append(sock.recv(100, socket.MSG_PEEK))
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = start_server(app)
    wire = Wire(server)
    wire.get("/wait")
    started.wait(5)
    wire.get("/next")
    assert [wire.response()[1], wire.response()[1]] == [b"ok", b"ok"]
    assert peeked == [b"GET /next HTTP/1.1\r\nHost: t\r\n\r\n"]
    wire.close()


def echo_upgrade(environ, start_response):
    """A WSGI app that upgrades to a line echo protocol and serves it on the taken socket."""
    if environ.get("HTTP_UPGRADE") != "echo":
        start_response("400 Bad Request", [("Content-Length", "0")])
        return []
    write = start_response("101 Switching Protocols", [("Upgrade", "echo"), ("Connection", "Upgrade")])
    write(b"")
    pending = environ["wsgi.input"].peek(65536)
    environ["wsgi.input"].read(len(pending))
    taken = environ[TAKE_SOCKET_KEY]()  # a plain non-blocking socket: wrapped for a greenlet's blocking calls
    sock = gevent.socket.socket(fileno=taken.detach())

    def serve_echo():
        data = pending
        with sock:
            while True:
                if data:
                    sock.sendall(data.upper())
                data = sock.recv(100)
                if not data:
                    return

    gevent.spawn(serve_echo)
    return []


def test_upgrade_hands_the_socket_over_with_the_bytes_sent_after_the_head(start_server):
    server = start_server(echo_upgrade)
    wire = Wire(server)
    wire.send(b"GET /x HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nsent with the head")
    head = wire.read_head()
    assert head.status == 101
    assert head.header("Transfer-Encoding") is None and head.header("Content-Length") is None
    assert wire.read_exactly(18) == b"SENT WITH THE HEAD"
    settle(server)  # the connection's greenlet is gone, and did not close the socket
    wire.send(b"more")
    assert wire.read_exactly(4) == b"MORE"
    wire.close()


def test_upgrade_over_http10_is_400(start_server):
    server = start_server(echo_upgrade)
    wire = Wire(server)
    wire.send(b"GET /x HTTP/1.0\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
    head, _ = wire.response()
    assert head.status == 400
    assert wire.read_to_close() == b""


def test_a_declined_upgrade_is_answered_and_closed(start_server):
    server = start_server(echo_upgrade)
    wire = Wire(server)
    wire.send(b"GET /x HTTP/1.1\r\nHost: t\r\nUpgrade: other\r\nConnection: Upgrade\r\n\r\n\x00\x01binary")
    head, _ = wire.response()
    assert head.status == 400 and head.header("Connection") == "close"
    assert wire.read_to_close() == b""


def test_sockjs_websocket_gets_a_frame_sent_with_the_handshake(start_server):
    def echo(conn):
        for message in conn:
            conn.send(message)

    server = start_server(SockJS(echo, prefix="/echo"))
    wire = Wire(server)
    key = base64.b64encode(os.urandom(16))
    frame = b'["first"]'
    mask = b"abcd"
    wire.send(
        b"GET /echo/0/s/websocket HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: "
        + key
        + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        + bytes([0x81, 0x80 | len(frame)])
        + mask
        + bytes(b ^ mask[i % 4] for i, b in enumerate(frame))
    )
    assert wire.read_head().status == 101
    assert wire.read_exactly(3) == b"\x81\x01o"
    assert wire.read_exactly(12) == b"\x81\x0a" + b'a["first"]'
    wire.close()
