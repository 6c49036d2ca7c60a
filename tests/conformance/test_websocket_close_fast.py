"""When the client closes a websocket, the server answers and closes the TCP connection at once.

RFC 6455 section 7.1.1: once both close frames have been exchanged, the
server closes the TCP connection first. The server echoes the client's
close frame and closes its socket right away: the client reads the echo,
then the end of the stream, without sending its own FIN first, and the
session's handler has seen the code and reason by then. Anything the
client sends afterwards meets a closed socket (a reset), where a server
still waiting for the client's end of the stream would swallow it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from gevent import socket
from gevent.queue import Queue

from sockjs_gevent import SockJS
from sockjs_gevent.server import SERVERS, build_server
from testkit.rawhttp import HttpConnection
from testkit.wsframe import CLOSE, TEXT, close_payload, encode, frame_at, new_key, upgrade_request

TIMEOUT = 5.0
PATHS = {"raw": "/x/websocket", "sockjs": "/x/000/abcdef/websocket"}


@pytest.fixture(params=SERVERS)
def served(request) -> Iterator[tuple[int, Queue]]:
    """(port, what the handlers saw): a service at /x whose handler reports (messages, code, reason) at its end."""
    seen: Queue = Queue()

    def handler(conn):
        messages = list(conn)
        seen.put((messages, conn.close_code, conn.close_reason))

    server = build_server(SockJS(handler, prefix="/x"), port=0, server=request.param)
    server.start()
    yield server.server_port, seen
    server.stop(timeout=1.0)


def frames_until_eof(conn: HttpConnection) -> list[tuple[int, bytes]]:
    """Every frame the server sends until it ends the stream: (first byte, payload)."""
    deadline = time.monotonic() + TIMEOUT
    while conn.recv_some(deadline):
        pass
    frames, pos = [], 0
    while (frame := frame_at(conn.buf, pos)) is not None:
        first, payload, pos, masked = frame
        assert not masked
        frames.append((first, payload))
    assert pos == len(conn.buf), bytes(conn.buf[pos:])
    return frames


def reset_after(conn: HttpConnection) -> bool:
    """Whether more bytes from the client meet a closed socket (a reset) within the timeout."""
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            conn.sock.sendall(encode("late", TEXT))
            conn.sock.settimeout(0.05)
            try:
                conn.sock.recv(100)
            except TimeoutError:
                pass
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
@pytest.mark.parametrize(
    "payload, expected",
    [
        (close_payload(1000, "bye"), (1000, "bye")),
        (close_payload(4001, "é"), (4001, "é")),
        (close_payload(1001), (1001, "Going away")),
        (b"", (1005, "No status received")),
    ],
    ids=["1000-bye", "4001-utf8", "1001", "empty"],
)
def test_the_server_echoes_the_close_and_hangs_up_without_waiting_for_the_client(served, path, payload, expected):
    port, seen = served
    with HttpConnection(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)) as conn:
        conn.send(upgrade_request(path, key=new_key()))
        assert conn.read_head().status == 101
        conn.send(encode(payload, CLOSE))  # and no FIN: the client keeps its side open
        frames = frames_until_eof(conn)
        assert frames[-1] == (0x88, payload)  # the close frame echoed, then the end of the stream
        assert frames[:-1] in ([], [(0x81, b"o")])  # the SockJS open frame before it
        assert seen.get(timeout=TIMEOUT) == ([], *expected)  # the session ended before the client's end of the stream
        assert reset_after(conn)  # the server's socket is closed, not half-closed


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_messages_in_the_same_write_as_the_close_still_reach_the_handler(served, path):
    port, seen = served
    with HttpConnection(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)) as conn:
        conn.send(upgrade_request(path, key=new_key()))
        assert conn.read_head().status == 101
        one, two = ("one", "two") if path == PATHS["raw"] else ('["one"]', '["two"]')
        conn.send(encode(one, TEXT) + encode(two, TEXT) + encode(close_payload(1000), CLOSE))
        assert frames_until_eof(conn)[-1] == (0x88, close_payload(1000))
        assert seen.get(timeout=TIMEOUT) == (["one", "two"], 1000, "Normal closure")
