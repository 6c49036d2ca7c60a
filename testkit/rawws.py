"""WebSocket by hand over a ``Raw`` connection, for tests about the handshake and the framing itself.

The ``websockets`` library refuses to send what these tests need (odd
versions, early frames, fragments, pings in bulk), so the handshake goes
over a ``Raw`` connection and frames are built and cut by wsframe.py:
client frames masked, server frames read whole from ``Raw.buf``.
"""

from __future__ import annotations

from testkit.rawhttp import TIMEOUT, ConnectionClosed, Raw, Response
from testkit.serverproc import RunningServer
from testkit.wsframe import FIN, OPCODE, TEXT, accept_token, encode, frame_at, handshake_headers, new_key


def ws_connect_raw(
    server: RunningServer, path: str, version: int = 13, connection: str = "Upgrade"
) -> tuple[Raw, Response]:
    """Open a WebSocket by hand; the 101 answer must carry the right Accept (no HTTP body follows it)."""
    key = new_key()
    raw = Raw(server)
    raw.send_request("GET", path, handshake_headers(key, version, connection))
    head = raw.read_head()
    assert head.status == 101, (head.status, head.headers)
    assert head.header("Sec-WebSocket-Accept") == accept_token(key)
    return raw, head


def ws_send(raw: Raw, payload: bytes | str, opcode: int = TEXT) -> None:
    """Send one masked, final frame (text by default)."""
    raw.send(encode(payload, opcode))


def ws_recv_frame(raw: Raw, timeout: float = TIMEOUT) -> tuple[int, bytes]:
    """One whole server frame, as it came: (first byte, payload); server frames are never masked."""
    deadline = raw.deadline(timeout)
    while (frame := frame_at(raw.buf)) is None:
        if not raw.recv_some(deadline):
            raise ConnectionClosed("socket closed")
    first, payload, end, masked = frame
    assert not masked, "server frames must not be masked"
    del raw.buf[:end]
    return first, payload


def ws_recv(raw: Raw, timeout: float = TIMEOUT) -> tuple[int, bytes]:
    """One whole (unfragmented) server frame: (opcode, payload)."""
    first, payload = ws_recv_frame(raw, timeout)
    assert first & FIN, "fragmented frames are not expected here"
    return first & OPCODE, payload
