"""The raw client: just enough HTTP/1.1 to drive the server cheaply (RFC 6455 frames: testkit.wsframe).

No client library: one socket per connection, connected from a rotating
source address (127.0.0.2, 127.0.0.3, ...) so that many connections to one
server port do not run out of ephemeral ports; an HTTP/1.1 reader for
heads, Content-Length and chunked bodies.
"""

from __future__ import annotations

import random
import socket as _socket
import string
import time

from gevent import socket

HOST = "127.0.0.1"
IP_BIND_ADDRESS_NO_PORT = getattr(_socket, "IP_BIND_ADDRESS_NO_PORT", 24)
IO_TIMEOUT = 10.0  # per socket operation of request/response exchanges
MAX_HEAD = 65536

now = time.monotonic


class ProtocolError(Exception):
    pass


class Net:
    port = 0
    sources: list[str] = ["127.0.0.1"]
    turn = 0


def connect(timeout: float | None) -> socket.socket:
    sock = socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        Net.turn += 1
        source = Net.sources[Net.turn % len(Net.sources)]
        if source != HOST:
            sock.setsockopt(_socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.connect((HOST, Net.port))
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


class Http:
    """One keep-alive HTTP/1.1 connection: heads, bodies and chunks, parsed just enough."""

    __slots__ = ("sock", "buf", "used")

    def __init__(self, timeout: float | None) -> None:
        self.sock = connect(timeout)
        self.buf = bytearray()
        self.used = now()

    def _more(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed by the server")
        self.buf += data

    def head(self) -> tuple[int, dict[bytes, bytes]]:
        buf = self.buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(buf) > MAX_HEAD:
                raise ProtocolError("HTTP head too long")
            self._more()
        lines = bytes(buf[:end]).split(b"\r\n")
        del buf[: end + 4]
        try:
            status = int(lines[0].split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise ProtocolError(f"bad status line {lines[0][:60]!r}") from None
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def _line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[: end + 2]
                return line
            self._more()

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._more()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def chunk(self) -> bytes | None:
        """The next chunk of a chunked body; None after the last."""
        size = int(self._line().split(b";", 1)[0], 16)
        if size == 0:
            self._line()
            return None
        data = self._take(size + 2)
        return data[:-2]

    def body(self, status: int, headers: dict[bytes, bytes]) -> bytes:
        if status in (101, 204, 304):
            return b""
        if b"content-length" in headers:
            return self._take(int(headers[b"content-length"]))
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while (part := self.chunk()) is not None:
                parts.append(part)
            return b"".join(parts)
        data = bytes(self.buf)  # read to EOF
        self.buf.clear()
        while True:
            more = self.sock.recv(65536)
            if not more:
                return data
            data += more

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def post(path: str, body: bytes = b"") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n"
        "Content-Type: text/plain;charset=UTF-8\r\n\r\n"
    ).encode("latin-1") + body


def random_id(n: int = 16) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=n))
