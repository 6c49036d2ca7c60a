"""RFC 6455 by hand: the one WebSocket framer of the tests, the benchmarks and the soak.

Client libraries refuse to send what the tests need (odd versions, early
frames, fragments, reserved bits, pings in bulk) and cost too much per
message for the load generators, so frames are built and cut here:

- ``encode`` builds one frame: masked with a fresh key (a client's, the
  default) or unmasked (a server's), final or not, RSV1 for
  permessage-deflate;
- ``frame_at`` cuts the whole frame at an offset of a buffer, unmasking a
  masked one; ``None`` while it is incomplete (the caller reads more);
- ``FrameReader`` reads frames one by one from a socket, keeping what
  follows in its buffer;
- ``upgrade_request`` / ``handshake_headers`` / ``accept_token`` are the
  handshake, close frames are ``close_payload`` / ``parse_close``.

Fragments are written with ``fin=False`` and read frame by frame (no
reassembly: the callers check what the server does with them). Payload
masking is one big-int XOR, fast even for 1 MiB; the load generator
builds its frames once and reuses them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
from typing import Any

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLIENT_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample Sec-WebSocket-Key: any base64 of 16 bytes does

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
FIN, RSV1, OPCODE = 0x80, 0x40, 0x0F  # bits of a frame's first byte
MASKED = 0x80  # the mask bit of the second byte
MAX_READS = 1_000_000  # bound on recv calls while waiting for one frame
_mask_keys = random.Random()  # its own generator: a caller's random.seed() run stays the same


def accept_token(key: bytes | str) -> str:
    """The Sec-WebSocket-Accept a server answers to a Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    if isinstance(key, str):
        key = key.encode("latin-1")
    return base64.b64encode(hashlib.sha1(key.strip() + GUID).digest()).decode("ascii")


def new_key() -> str:
    """A random Sec-WebSocket-Key."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def handshake_headers(key: str | None = None, version: int = 13, connection: str = "Upgrade") -> list[tuple[str, str]]:
    """The headers of an upgrade request (after Host); a random key unless one is given."""
    return [
        ("Upgrade", "websocket"),
        ("Connection", connection),
        ("Sec-WebSocket-Key", new_key() if key is None else key),
        ("Sec-WebSocket-Version", str(version)),
    ]


def upgrade_request(path: str, host: str = "127.0.0.1", key: str = CLIENT_KEY, extra: str = "") -> bytes:
    """A whole upgrade request for ``path``, as bytes; ``extra`` is more header lines, each ending in CRLF."""
    headers = "".join(f"{name}: {value}\r\n" for name, value in handshake_headers(key))
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}{extra}\r\n".encode("latin-1")


def xor_mask(payload: bytes, key: bytes) -> bytes:
    """Mask or unmask ``payload`` with a 4-byte ``key`` (one big-int XOR)."""
    n = len(payload)
    if n == 0:
        return b""
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")


def encode(
    payload: bytes | str,
    opcode: int = TEXT,
    masked: bool = True,
    *,
    fin: bool = True,
    rsv1: bool = False,
    key: bytes | None = None,
) -> bytes:
    """One frame (text and final by default; a str goes as UTF-8).

    Masked (a client's frame) with ``key``, or a fresh one: a key only
    has to be unpredictable to proxies, so the cheap ``random`` will do.
    ``masked=False`` writes a server's frame.
    """
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload)
    first = opcode | FIN if fin else opcode
    if rsv1:
        first |= RSV1
    mask_bit = MASKED if masked else 0
    if n < 126:
        header = bytes((first, mask_bit | n))
    elif n < 65536:
        header = bytes((first, mask_bit | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((first, mask_bit | 127)) + n.to_bytes(8, "big")
    if not masked:
        return header + payload
    if key is None:
        key = _mask_keys.getrandbits(32).to_bytes(4, "big")
    return header + key + xor_mask(payload, key)


def frame_at(buf: bytes | bytearray, pos: int = 0) -> tuple[int, bytes, int, bool] | None:
    """The whole frame starting at ``buf[pos]``: (first byte, payload unmasked, end offset, was masked).

    None while ``buf`` does not hold all of it. The first byte carries
    FIN, RSV1 and the opcode (``first & OPCODE``).
    """
    have = len(buf) - pos
    if have < 2:
        return None
    second = buf[pos + 1]
    short = second & 0x7F
    head = 2 if short < 126 else 4 if short == 126 else 10
    masked = second & MASKED
    start = head + 4 if masked else head
    if have < start:
        return None
    n = short if short < 126 else int.from_bytes(buf[pos + 2 : pos + head], "big")
    end = pos + start + n
    if len(buf) < end:
        return None
    payload = bytes(buf[pos + start : end])
    if masked:
        payload = xor_mask(payload, bytes(buf[pos + head : pos + start]))
    return buf[pos], payload, end, bool(masked)


def close_payload(code: int, reason: str = "") -> bytes:
    return code.to_bytes(2, "big") + reason.encode("utf-8")


def parse_close(payload: bytes) -> tuple[int, str]:
    """(code, reason) of a close frame's payload; 1005 when it has none."""
    if len(payload) < 2:
        return 1005, ""
    return int.from_bytes(payload[:2], "big"), payload[2:].decode("utf-8", "replace")


class FrameReader:
    """Reads whole frames from a socket, keeping what follows in a buffer."""

    __slots__ = ("sock", "buf")

    def __init__(self, sock: Any, initial: bytes = b"") -> None:
        self.sock = sock
        self.buf = bytearray(initial)

    def read(self) -> tuple[int, bytes]:
        """The next frame as (opcode, payload), unmasked; EOFError at EOF."""
        buf = self.buf
        recv = self.sock.recv
        for _ in range(MAX_READS):
            frame = frame_at(buf)
            if frame is not None:
                del buf[: frame[2]]
                return frame[0] & OPCODE, frame[1]
            data = recv(262144)
            if not data:
                raise EOFError("connection closed while reading a frame")
            buf += data
        raise RuntimeError("frame never completed")
