"""A websocket's 101 goes out with its first frame, in one send, on the servers that hand the socket over.

The server renders the 101 and leaves it to the websocket
(``take_with_head``): a SockJS websocket sends it with its ``o`` frame, so
the client gets both in one TCP read; a raw websocket, which has no open
frame, still gets its 101 at once, alone. Frames a handler sends as it
opens come after ``o``.
"""

from __future__ import annotations

import socket

import pytest

from testkit.sockjshttp import new_sid
from testkit.wsframe import OPCODE, TEXT, accept_token, encode, frame_at, new_key, upgrade_request

TIMEOUT = 5.0


def upgrade(server, path: str) -> tuple[socket.socket, str]:
    """A client socket that has sent its upgrade request for ``path``, and the key it sent."""
    key = new_key()
    sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
    sock.sendall(upgrade_request(path, key=key))
    return sock, key


def split_head(data: bytes, key: str) -> bytes:
    """Check ``data`` starts with a whole 101 for ``key``; what follows it."""
    end = data.find(b"\r\n\r\n")
    assert end >= 0, data
    head = data[:end].decode("latin-1")
    assert head.startswith("HTTP/1.1 101 "), head
    assert f"\r\nSec-WebSocket-Accept: {accept_token(key)}" in head, head
    assert "\r\nDate: " in head, head
    return data[end + 4 :]


def read_past_head(sock: socket.socket) -> bytes:
    """What the socket sent until its response head had ended (and any bytes after it in the same reads)."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, data
        data += more
    return data


def read_frames(sock: socket.socket, buf: bytes, count: int) -> list[tuple[int, bytes]]:
    """``count`` whole server frames, (opcode, payload), from ``buf`` and then the socket."""
    frames = []
    data = bytearray(buf)
    while len(frames) < count:
        frame = frame_at(data)
        if frame is None:
            more = sock.recv(65536)
            assert more, f"the connection ended after {frames}"
            data += more
            continue
        first, payload, end, masked = frame
        assert not masked
        frames.append((first & OPCODE, payload))
        del data[:end]
    return frames


def test_the_101_and_the_open_frame_come_in_one_read(server):
    sock, key = upgrade(server, f"/echo/000/{new_sid()}/websocket")
    with sock:
        first = sock.recv(65536)  # the first bytes to arrive, whatever they are
        assert split_head(first, key) == b"\x81\x01o"
        sock.sendall(encode('["hi"]'))
        assert read_frames(sock, b"", 1) == [(TEXT, b'a["hi"]')]


def test_a_raw_websocket_gets_its_101_at_once_and_no_frame(server):
    sock, key = upgrade(server, "/echo/websocket")
    with sock:
        data = read_past_head(sock)
        assert split_head(data, key) == b""
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(65536)  # a raw websocket says nothing until it is spoken to
        sock.settimeout(TIMEOUT)
        sock.sendall(encode("hello"))
        assert read_frames(sock, b"", 1) == [(TEXT, b"hello")]


@pytest.mark.parametrize(
    ("prefix", "after_o"),
    [
        ("/stubborn", (TEXT, b'a["stuck"]')),  # sends at once, then never reads
        ("/whoami", None),  # sends its description at once
    ],
)
def test_what_a_handler_sends_as_it_opens_comes_after_o(server, prefix, after_o):
    sock, key = upgrade(server, f"{prefix}/000/{new_sid()}/websocket")
    with sock:
        data = read_past_head(sock)
        frames = read_frames(sock, split_head(data, key), 2)
        assert frames[0] == (TEXT, b"o")
        if after_o is not None:
            assert frames[1] == after_o
        else:
            assert frames[1][0] == TEXT and frames[1][1].startswith(b'a["{'), frames[1]


def test_a_session_closed_as_it_opens_sends_o_then_its_close(server):
    sock, key = upgrade(server, f"/close/000/{new_sid()}/websocket")
    with sock:
        data = read_past_head(sock)
        frames = read_frames(sock, split_head(data, key), 2)
        assert frames == [(TEXT, b"o"), (TEXT, b'c[3000,"Go away!"]')]
