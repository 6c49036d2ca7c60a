"""Minimal RFC 6455 framing for the benchmarks: just enough, and fast.

Shared by the load generator (client side: frames masked with a fixed
key) and by raw_echo_server.py (server side: unmasked frames). Only FIN
frames are written; the reader returns frames one by one and leaves
reassembly of fragments to the caller (none of our servers fragment).
"""

from __future__ import annotations

import base64
import hashlib

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MASK_KEY = b"\x37\xfa\x21\x3d"  # fixed: the RFC wants it random, servers cannot tell
CLIENT_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # any base64 of 16 bytes does

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
MAX_READS = 1_000_000  # bound on recv calls while waiting for one frame


def accept_token(key: bytes) -> bytes:
    """The Sec-WebSocket-Accept value for a Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1(key.strip() + GUID).digest())


def xor_mask(payload: bytes, key: bytes = MASK_KEY) -> bytes:
    """Mask or unmask ``payload`` (one big-int XOR; fast even for 1 MiB)."""
    n = len(payload)
    if n == 0:
        return b""
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")


def encode(payload: bytes, opcode: int = TEXT, masked: bool = True) -> bytes:
    """One complete (FIN) frame."""
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        header = bytes((0x80 | opcode, mask_bit | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, mask_bit | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, mask_bit | 127)) + n.to_bytes(8, "big")
    if masked:
        return header + MASK_KEY + xor_mask(payload)
    return header + payload


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

    def __init__(self, sock, initial: bytes = b"") -> None:
        self.sock = sock
        self.buf = bytearray(initial)

    def read(self) -> tuple[int, bytes]:
        """The next frame as (opcode, payload), unmasked; EOFError at EOF."""
        buf = self.buf
        recv = self.sock.recv
        for _ in range(MAX_READS):
            have = len(buf)
            if have >= 2:
                short = buf[1] & 0x7F
                masked = buf[1] & 0x80
                head = 2 if short < 126 else 4 if short == 126 else 10
                start = head + (4 if masked else 0)
                if have >= start:
                    n = short if short < 126 else int.from_bytes(buf[2:head], "big")
                    if have >= start + n:
                        payload = bytes(buf[start : start + n])
                        if masked:
                            payload = xor_mask(payload, bytes(buf[head:start]))
                        opcode = buf[0] & 0x0F
                        del buf[: start + n]
                        return opcode, payload
            data = recv(262144)
            if not data:
                raise EOFError("connection closed while reading a frame")
            buf += data
        raise RuntimeError("frame never completed")
