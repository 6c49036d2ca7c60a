"""An HTTP/1.x client on a raw socket, for tests about the wire itself.

``http.client`` hides what some rules are about (chunking, exact preludes,
HTTP/1.0, aborted requests), so ``Raw`` speaks HTTP/1.x over a plain socket
and decodes the body incrementally: a streaming answer can be read piece by
piece, chunk by chunk. ``request`` is the plain one-shot request for
everything else; both give a ``Response`` with the exact header list.

SockJS on top of it: sockjshttp.py (polling, sending), sockjsstream.py
(streaming receivers), rawws.py (WebSocket by hand). ``http`` (one plain
request through http.client) and ``read_answer`` (one answer off a socket
the caller wrote to) are the smallest clients.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPResponse
from typing import Any

from testkit.serverproc import RunningServer

#: Seconds a client waits for an answer unless told otherwise.
TIMEOUT = 5.0


def http(
    server: RunningServer,
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes, HTTPResponse]:
    """One plain HTTP request to a running server: (status, body, response)."""
    conn = HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response
    finally:
        conn.close()


def read_answer(sock: Any) -> tuple[bytes, bytes]:
    """One HTTP answer with a Content-Length body from a raw socket: (head, body); what came if it closed early.

    (pywsgi sends a head and its body in separate writes: this waits for both.)
    """
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data, b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lengths = [line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    length = int(lengths[0]) if lengths else 0
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


@dataclass
class Response:
    """A status line and headers (in order, repeats kept), and the body once read."""

    status: int
    reason: str = ""
    version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def all(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in order."""
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def header(self, name: str) -> str | None:
        """The first value of header ``name``, or None."""
        values = self.all(name)
        return values[0] if values else None

    def has(self, name: str) -> bool:
        """Whether header ``name`` is there at all."""
        return bool(self.all(name))


def request(
    server: RunningServer,
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> Response:
    """One request through ``http`` (a str body goes as UTF-8); the answer with its exact header list."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    status, data, r = http(server, method, path, body, headers, timeout)
    return Response(status, r.reason, f"HTTP/1.{r.version - 10}", r.getheaders(), data)


class Raw:
    """An HTTP/1.x client connection on a raw socket.

    ``read_head()`` parses the status line and headers; the body is then
    decoded (Content-Length, chunked or until close) into ``self.body`` as
    bytes arrive, so streaming answers can be read piece by piece.
    """

    def __init__(self, server: RunningServer, timeout: float = TIMEOUT) -> None:
        self.host, self.port = server.host, server.port
        self.sock = socket.create_connection((self.host, self.port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.peer_closed = False
        self.method = "GET"
        self._reset_body()

    def _reset_body(self) -> None:
        """Forget the previous body: a new answer's head was read."""
        self.body = b""
        self.done = False
        self.mode = "none"
        self.remaining = 0
        self.chunk_left = -1  # -1: expecting a chunk-size line
        self.chunked_wire = b""  # raw chunked bytes of the current body
        #: The payload of each chunk of a chunked body, as the server framed it.
        self.chunks: list[bytes] = []

    def send(self, data: bytes) -> None:
        """Send bytes as they are."""
        self.sock.sendall(data)

    def send_request(
        self,
        method: str,
        path: str,
        headers: Iterable[tuple[str, str]] | dict = (),
        body: bytes | str = b"",
        version: str = "HTTP/1.1",
    ) -> None:
        """Send a request: Host always, Content-Length with a body or for POST/PUT."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if isinstance(headers, dict):
            headers = list(headers.items())
        lines = [f"{method} {path} {version}", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        self.method = method
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def recv_some(self, deadline: float) -> None:
        """One socket read into ``buf`` (``peer_closed`` on EOF); socket.timeout at ``deadline``."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.peer_closed = True
        self.buf += data

    def read_head(self, timeout: float | None = None) -> Response:
        """Read the next answer's head; its body is then read into ``self.body`` as it comes."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if self.peer_closed:
                raise ConnectionError(f"connection closed before a response head: {self.buf!r}")
            self.recv_some(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status, *reason = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        response = Response(int(status), reason[0] if reason else "", version, headers)
        self._reset_body()
        te = (response.header("Transfer-Encoding") or "").lower()
        if self.method == "HEAD" or response.status in (204, 304) or response.status < 200:
            self.done = True
        elif "chunked" in te:
            self.mode = "chunked"
        elif response.has("Content-Length"):
            self.mode = "length"
            self.remaining = int(response.header("Content-Length"))
            self.done = self.remaining == 0
        else:
            self.mode = "close"
        self._pump()
        return response

    def _pump(self) -> None:
        """Move what ``buf`` holds of the current body into ``body`` (and ``chunks``)."""
        if self.done:
            return
        if self.mode == "length":
            take = self.buf[: self.remaining]
            self.body += take
            self.buf = self.buf[len(take) :]
            self.remaining -= len(take)
            self.done = self.remaining == 0
        elif self.mode == "close":
            self.body += self.buf
            self.buf = b""
            self.done = self.peer_closed
        elif self.mode == "chunked":
            while not self.done:
                if self.chunk_left == -1:
                    end = self.buf.find(b"\r\n")
                    if end < 0:
                        return
                    size = int(self.buf[:end].split(b";")[0], 16)
                    self.chunked_wire += self.buf[: end + 2]
                    self.buf = self.buf[end + 2 :]
                    if size == 0:
                        self.chunk_left = -2  # trailers: wait for the empty line
                    else:
                        self.chunk_left = size
                        self.chunks.append(b"")
                elif self.chunk_left == -2:
                    end = self.buf.find(b"\r\n")
                    if end < 0:
                        return
                    line, self.buf = self.buf[:end], self.buf[end + 2 :]
                    self.chunked_wire += line + b"\r\n"
                    if not line:
                        self.done = True
                elif self.chunk_left == 0:
                    if len(self.buf) < 2:
                        return
                    assert self.buf[:2] == b"\r\n", f"bad chunk terminator {self.buf[:10]!r}"
                    self.chunked_wire += b"\r\n"
                    self.buf = self.buf[2:]
                    self.chunk_left = -1
                else:
                    take = self.buf[: self.chunk_left]
                    if not take:
                        return
                    self.chunked_wire += take
                    self.chunks[-1] += take
                    self.body += take
                    self.buf = self.buf[len(take) :]
                    self.chunk_left -= len(take)

    def read_until(self, test: Callable[[bytes], bool], timeout: float | None = None) -> bytes:
        """Read body bytes until ``test(body)`` holds; ConnectionError if the body ends first."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not test(self.body):
            if self.done or self.peer_closed:
                self._pump()
                if test(self.body):
                    break
                raise ConnectionError(f"body ended before expected data: {self.body[-300:]!r}")
            self.recv_some(deadline)
            self._pump()
        return self.body

    def read_body(self, timeout: float | None = None) -> bytes:
        """Read to the end of the current body."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.done:
            if self.peer_closed:
                raise ConnectionError("connection closed in the middle of a body")
            self.recv_some(deadline)
            self._pump()
        return self.body

    def wait_closed(self, timeout: float | None = None) -> bytes:
        """Wait until the peer closes the connection; returns what came after the body."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.peer_closed:
            self.recv_some(deadline)
            self._pump()
        return self.buf

    def quiet_for(self, seconds: float) -> bool:
        """True when nothing arrives for ``seconds`` (for "request is held" checks)."""
        try:
            self.recv_some(time.monotonic() + seconds)
        except TimeoutError:
            return True
        self._pump()
        return False

    def abort(self) -> None:
        """Close with a TCP reset, as a network failure would."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        """Close the socket normally."""
        self.sock.close()

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
