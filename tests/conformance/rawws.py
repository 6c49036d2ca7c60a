"""WebSocket by hand, for tests about the handshake and the framing itself.

The ``websockets`` library refuses to send what these tests need (odd
versions, early frames, fragments, pings in bulk), so the handshake goes
over a ``Raw`` connection and frames are built and parsed here: client
frames masked, server frames read whole from ``Raw.buf``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import time

from rawhttp import TIMEOUT, Raw, Response
from serverproc import RunningServer

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_accept(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer to ``key`` (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def ws_handshake_headers(
    key: str | None = None, version: int = 13, connection: str = "Upgrade"
) -> list[tuple[str, str]]:
    """The headers of an upgrade request; a random key unless one is given."""
    if key is None:
        key = base64.b64encode(os.urandom(16)).decode()
    return [
        ("Upgrade", "websocket"),
        ("Connection", connection),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", str(version)),
    ]


def ws_connect_raw(
    server: RunningServer, path: str, version: int = 13, connection: str = "Upgrade"
) -> tuple[Raw, Response]:
    """Open a WebSocket by hand; the 101 answer must carry the right Accept."""
    key = base64.b64encode(os.urandom(16)).decode()
    raw = Raw(server)
    raw.send_request("GET", path, ws_handshake_headers(key, version, connection))
    head = raw.read_head()
    assert head.status == 101, (head.status, head.headers)
    assert head.header("Sec-WebSocket-Accept") == ws_accept(key)
    raw.done = True  # no HTTP body after 101; the socket now carries frames
    return raw, head


def ws_frame(payload: bytes | str, opcode: int = 1, fin: bool = True) -> bytes:
    """One masked client frame (text and final by default)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    mask = os.urandom(4)
    n = len(payload)
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        head = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def ws_send(raw: Raw, payload: bytes | str, opcode: int = 1) -> None:
    """Send one masked, final frame (text by default)."""
    raw.send(ws_frame(payload, opcode))


def ws_recv(raw: Raw, timeout: float = TIMEOUT) -> tuple[int, bytes]:
    """One whole (unfragmented) server frame: (opcode, payload)."""
    deadline = time.monotonic() + timeout

    def need(n: int) -> None:
        while len(raw.buf) < n:
            if raw.peer_closed:
                raise ConnectionError("socket closed")
            raw.recv_some(deadline)

    need(2)
    b0, b1 = raw.buf[0], raw.buf[1]
    assert not b1 & 0x80, "server frames must not be masked"
    n, at = b1 & 0x7F, 2
    if n == 126:
        need(4)
        n, at = struct.unpack("!H", raw.buf[2:4])[0], 4
    elif n == 127:
        need(10)
        n, at = struct.unpack("!Q", raw.buf[2:10])[0], 10
    need(at + n)
    payload, raw.buf = raw.buf[at : at + n], raw.buf[at + n :]
    assert b0 & 0x80, "fragmented frames are not expected here"
    return b0 & 0x0F, payload
