"""Limits: slow consumers, session caps, stalled requests, oversized payloads."""

import os
import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from sockjs_gevent.client import connect
from testkit.rawhttp import http


def post(server, path, body=b""):
    status, data, _ = http(server, "POST", path, body)
    return status, data


def test_slow_consumer_is_closed_and_others_carry_on(server_factory):
    server = server_factory("--max-queued-bytes", "20000")
    sid = os.urandom(6).hex()
    assert post(server, f"/broadcast/0/{sid}/xhr") == (200, b"o\n")  # joined, then never polls
    fast = connect(server.url("/broadcast"), transport="websocket")
    for i in range(40):
        fast.send(f"{i:04d}" + "x" * 1000)
        assert fast.recv(timeout=5).startswith(f"{i:04d}")
    assert post(server, f"/broadcast/0/{sid}/xhr") == (200, b'c[1008,"Slow consumer: too much data queued"]\n')
    assert not fast.closed
    server.wait_for_log("closing a slow consumer")


def test_session_limit_refuses_new_sessions_with_1013(server_factory):
    server = server_factory("--max-sessions", "3")
    held = [connect(server.url("/echo"), transport="websocket") for _ in range(3)]
    with ws_connect(f"ws://{server.host}:{server.port}/echo/0/x/websocket") as ws:
        assert ws.recv(timeout=5) == 'c[1013,"Server busy: too many sessions"]'
    held[0].close()
    deadline = time.monotonic() + 5
    while True:  # the server notices the close asynchronously
        try:
            conn = connect(server.url("/echo"), transport="websocket", timeout=2)
            break
        except ConnectionError:
            assert time.monotonic() < deadline
    conn.send("ok")
    assert conn.recv(timeout=5) == "ok"


def read_until_closed(sock, limit=5.0):
    """Seconds until the server closed the connection (bounded)."""
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except (TimeoutError, ConnectionResetError):
        pass
    return time.monotonic() - start


@pytest.mark.parametrize(
    "partial",
    [
        b"GET /echo/info HTTP/1.1\r\nHost: x\r\n",  # headers never finish (slowloris)
        b'POST /echo/0/sid/xhr_send HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n["only',  # body never finishes
        b"",  # connects and says nothing
    ],
    ids=["headers", "body", "silent"],
)
def test_stalled_requests_are_cut_off(server_factory, partial):
    server = server_factory("--request-timeout", "0.5")
    sock = socket.create_connection((server.host, server.port))
    sock.sendall(partial)
    assert read_until_closed(sock) < 3.0
    sock.close()
    assert post(server, "/echo/0/after/xhr")[0] == 200


def test_idle_websocket_outlives_the_request_timeout(server_factory):
    server = server_factory("--request-timeout", "0.3")
    conn = connect(server.url("/echo"), transport="websocket")
    with pytest.raises(TimeoutError):
        conn.recv(timeout=0.8)
    conn.send("still here")
    assert conn.recv(timeout=5) == "still here"


def test_oversized_http_payload_is_413(server):
    sid = os.urandom(6).hex()
    post(server, f"/echo/0/{sid}/xhr")
    status, body = post(server, f"/echo/0/{sid}/xhr_send", b'["' + b"x" * (1024 * 1024 + 10) + b'"]')
    assert status == 413 and b"too large" in body


def test_oversized_websocket_message_closes_with_1009(server):
    with ws_connect(f"ws://{server.host}:{server.port}/echo/0/big/websocket", max_size=None) as ws:
        assert ws.recv() == "o"
        ws.send('["' + "x" * (1024 * 1024 + 10) + '"]')
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
        assert info.value.rcvd.code == 1009


def test_websocket_client_that_stops_reading_is_cut_off(server_factory):
    server = server_factory("--max-queued-bytes", "100000")
    sock = socket.create_connection((server.host, server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(
        b"GET /amplify/0/slow/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    mask = b"\x00\x00\x00\x00"
    for _ in range(200):  # ask for 200 x 256 KiB and never read a byte of it
        payload = b'["18"]'
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + payload)
    # the server gives up on us: the connection is cut within the close timeout
    assert read_until_closed(sock, limit=15.0) < 14.0
    sock.close()
    assert post(server, "/echo/0/after-slow/xhr")[0] == 200
