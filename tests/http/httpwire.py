"""A raw HTTP/1.1 client on gevent sockets, and helpers for in-process HttpServer tests.

The server and the tests share one gevent hub: the client's socket calls
yield to it, so the server runs while a test waits for bytes. Every
connection greenlet runs in a Pool, so a test can wait for the server to
be done with a connection (``server.pool.join()``) instead of sleeping.
"""

from __future__ import annotations

import socket as stdlib_socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gevent import socket

from sockjs_gevent.http import HttpConfig, HttpServer

#: Short timers, so tests that wait for one are fast.
FAST = HttpConfig(header_timeout=2.0, keepalive_timeout=2.0, body_timeout=2.0, write_timeout=2.0, linger_timeout=0.2)
TIMEOUT = 5.0


def settle(server: HttpServer, timeout: float = TIMEOUT) -> None:
    """Wait until the server has finished with every connection."""
    assert server.pool.join(timeout=timeout), "connections still open"


@dataclass
class Head:
    status: int
    reason: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def get(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None


class Wire:
    """One client connection speaking raw HTTP/1.x."""

    def __init__(self, server: Any, timeout: float = TIMEOUT) -> None:
        port = server if isinstance(server, int) else server.server_port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.eof = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def get(self, path: str = "/", headers: str = "", version: str = "HTTP/1.1") -> None:
        self.send(f"GET {path} {version}\r\nHost: t\r\n{headers}\r\n".encode("latin-1"))

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _need(self, predicate: Callable[[bytes], bool]) -> None:
        while not predicate(self.buf):
            if self.eof or not self._fill():
                raise ConnectionError(f"connection closed; have {self.buf[:300]!r}")

    def head(self) -> Head:
        self._need(lambda b: b"\r\n\r\n" in b)
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        version, status, *reason = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
        return Head(int(status), reason[0] if reason else "", version, headers)

    def exactly(self, n: int) -> bytes:
        self._need(lambda b: len(b) >= n)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def chunk(self) -> bytes:
        """One chunk of a chunked body (b"" for the last, trailers read)."""
        self._need(lambda b: b"\r\n" in b)
        line, self.buf = self.buf.split(b"\r\n", 1)
        size = int(line.split(b";")[0], 16)
        if size == 0:
            self._need(lambda b: b"\r\n" in b)
            trailer, self.buf = self.buf.split(b"\r\n", 1)
            assert trailer == b"", trailer
            return b""
        data = self.exactly(size + 2)
        assert data[-2:] == b"\r\n", data[-10:]
        return data[:-2]

    def body(self, head: Head, method: str = "GET") -> bytes:
        if method == "HEAD" or head.status in (204, 304) or head.status < 200:
            return b""
        if (head.get("Transfer-Encoding") or "").lower() == "chunked":
            parts = []
            while True:
                part = self.chunk()
                if not part:
                    return b"".join(parts)
                parts.append(part)
        if head.get("Content-Length") is not None:
            return self.exactly(int(head.get("Content-Length")))
        return self.rest()

    def response(self, method: str = "GET") -> tuple[Head, bytes]:
        head = self.head()
        return head, self.body(head, method)

    def rest(self) -> bytes:
        """Everything until the server closes."""
        while self._fill():
            pass
        data, self.buf = self.buf, b""
        return data

    def closed(self) -> bool:
        """True once the server closed the connection (with nothing more sent)."""
        return self.rest() == b""

    def reset(self) -> None:
        """Close with a TCP reset, as a network failure would."""
        self.sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


def hello(environ: dict, start_response: Callable) -> list[bytes]:
    """A plain app: 200 "hello" with a Content-Length."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def assert_serves(server: HttpServer) -> None:
    """A normal request on a new connection still gets an answer."""
    wire = Wire(server)
    wire.get("/", "Connection: close\r\n")
    head, _ = wire.response()
    assert head.status < 500
    wire.close()
