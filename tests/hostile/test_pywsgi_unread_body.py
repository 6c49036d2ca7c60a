"""A request body the app did not read: read away within bounds, then the connection goes on or closes.

After answering, a server must read away the rest of the body before the
next request on the connection. A client could make that last forever (a
large body trickling in); so a small rest (64 KiB at most, arriving within
2 s) is read away and keep-alive goes on, anything more closes the
connection, after a moment reading what the client still sends so that
closing does not reset the connection before the client read its answer.
Both servers, the same bounds (HttpConfig.max_drain_size and
linger_timeout on httptools; SockJSHandler.max_drain_size and
drain_timeout on pywsgi), except that httptools gives a small body the
body's own deadline to arrive (see the skip).
"""

from __future__ import annotations

import select
import time

import pytest

from testkit.rawhttp import Raw

#: Seconds after the answer by which a trickling client must be cut off:
#: the servers' 2 s, plus a byte's pace and slack for a busy machine.
CUT_OFF = 6.0


def unread_post(raw: Raw, length: int, sent: bytes = b"") -> None:
    """A POST the test server answers 404 without reading its body; ``sent``: the part of it sent now."""
    raw.method = "POST"
    raw.send(f"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: {length}\r\n\r\n".encode("ascii") + sent)


@pytest.mark.parametrize("length", [100_000, 2048], ids=["past-the-drain-size", "within-the-drain-size"])
def test_a_body_trickling_in_is_not_read_away_for_ever(server, length):
    with Raw(server) as raw:
        unread_post(raw, length, b"x")
        assert raw.read_head().status == 404
        raw.read_body()
        answered = time.monotonic()
        ended = gone = None  # when the server's end of the stream came; when it was gone for good
        while gone is None and time.monotonic() - answered < CUT_OFF:
            try:
                raw.sock.sendall(b"x")  # a byte every half second: the body keeps coming
                # Pace the client (not waiting for state); the server cuts in.
                if ended is None and select.select([raw.sock], [], [], 0.5)[0]:
                    if raw.sock.recv(1024) == b"":
                        ended = time.monotonic()
                elif ended is not None:
                    select.select([], [], [], 0.5)
            except (BrokenPipeError, ConnectionResetError):
                gone = time.monotonic()
        assert ended is not None, "the server did not end the connection"
        assert gone is not None, f"the server still took the body {CUT_OFF} s after its answer"
        assert ended - answered < 3.5, ended - answered  # (2 s, and slack for a busy machine)
        assert gone - answered < CUT_OFF, gone - answered


def test_a_small_unread_body_is_read_away_and_keep_alive_goes_on(server):
    with Raw(server) as raw:
        unread_post(raw, 2048, b"y" * 2048)
        assert raw.read_head().status == 404
        raw.read_body()
        raw.send_request("GET", "/echo/info")
        response = raw.read_head()
        assert response.status == 200
        assert b"websocket" in raw.read_body()


def test_a_large_unread_body_sent_at_once_gets_its_answer_then_the_connection_closes(server):
    with Raw(server) as raw:
        raw.sock.settimeout(5.0)
        unread_post(raw, 200_000, b"z" * 200_000)  # (the server reads what it does not drain while it lingers)
        assert raw.read_head().status == 404
        raw.read_body()
        raw.wait_closed(timeout=CUT_OFF)
        assert raw.buf == b""


def test_a_socket_reset_by_the_client_mid_body_leaves_the_server_serving(server):
    with Raw(server) as raw:
        unread_post(raw, 100_000, b"w" * 10)
        assert raw.read_head().status == 404
        raw.read_body()
        raw.abort()
    with Raw(server) as again:
        again.send_request("GET", "/echo/info")
        assert again.read_head().status == 200


def test_a_chunked_unread_body_is_read_away_and_keep_alive_goes_on(server):
    with Raw(server) as raw:
        raw.method = "POST"
        raw.send(
            b"POST /nope HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"400\r\n" + b"c" * 1024 + b"\r\n0\r\n\r\n"
        )
        assert raw.read_head().status == 404
        raw.read_body()
        raw.send_request("GET", "/echo/info")
        assert raw.read_head().status == 200


def test_nothing_of_a_slow_body_is_parsed_as_a_next_request(server):
    """Cut off mid-body, the rest must not be read as a request (it could be one, smuggled)."""
    with Raw(server) as raw:
        smuggled = b"GET /echo/info HTTP/1.1\r\nHost: t\r\n\r\n"
        unread_post(raw, 100_000, b"x")
        assert raw.read_head().status == 404
        raw.read_body()
        try:
            raw.send(smuggled)
        except OSError:
            return
        raw.sock.settimeout(CUT_OFF)
        try:
            rest = raw.sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            rest = b""
        assert rest == b"", rest
