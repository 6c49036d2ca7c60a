"""The one raw HTTP/1.x client of the tests, the benchmarks and the soak.

``http.client`` hides what some rules are about (chunking, exact preludes,
HTTP/1.0, aborted requests) and costs too much per request for the load
generators, so requests are built and answers read here, over any
connected socket (the standard library's or gevent's):

- ``build_request`` makes the bytes of one request (Host always,
  Content-Length with a body or for POST/PUT); the load generators build
  theirs once and send them again and again;
- ``parse_head`` turns a response head into a ``Response``: status, reason,
  version and the exact header list (in order, repeats kept);
- ``HttpConnection`` is one keep-alive connection: ``read_head``, then the
  body by its framing (Content-Length, chunked, until close, none for HEAD,
  1xx, 204 and 304) whole (``read_body``), chunk by chunk (``read_chunk``)
  or piece by piece as it comes (``read_some``, for streaming answers);
  ``round_trip`` sends a request's bytes and reads the whole answer;
  ``read_exactly`` and ``read_to_close`` read the raw stream (frames after
  a 101, bodies a test wants as sent). Without a timeout a read waits as
  long as the socket's own timeout per recv, so the load generators' hot
  path asks the clock nothing;
- ``Raw`` is the tests' connection to a running server: a default
  timeout, the body so far kept (``body``, ``chunks``) for checks on
  streaming answers, ``read_until``, ``quiet_for``, ``wait_closed``.

``http`` (one plain request through http.client) and ``request`` (the same,
giving a ``Response``) are for the tests about what a request gets, not
about the wire. SockJS on top: sockjshttp.py (polling, sending),
sockjsstream.py (streaming receivers), rawws.py (WebSocket by hand).
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Iterable, Mapping
from http.client import HTTPConnection, HTTPResponse
from typing import Protocol

#: Seconds a test's client waits for an answer unless told otherwise.
TIMEOUT = 5.0
#: A response head longer than this is an error (the servers send a few hundred bytes).
MAX_HEAD = 65536
#: Bytes asked of the socket per recv.
RECV_SIZE = 65536

# How the current answer's body ends (RFC 9112 section 6.3).
NONE, LENGTH, CHUNKED, CLOSE = range(4)

Headers = Iterable[tuple[str, str]] | Mapping[str, str]


class ProtocolError(Exception):
    """The server answered what HTTP/1.1 does not allow, or what the caller did not expect."""


class ConnectionClosed(EOFError, ConnectionError):
    """The server closed the connection before the answer (or the part asked for) was whole."""


class Address(Protocol):
    """Where a server listens: a RunningServer, or anything else with a host and a port."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


class Response:
    """A status line and headers (in order, repeats kept), and the body once read.

    A head read off the wire keeps its header lines as text (``lines``) and
    splits them into ``headers`` when first asked: the load generators look
    at the status alone.
    """

    __slots__ = ("status", "reason", "version", "body", "lines", "_headers")

    def __init__(
        self,
        status: int,
        reason: str = "",
        version: str = "HTTP/1.1",
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        lines: str = "",
    ) -> None:
        self.status = status
        self.reason = reason
        self.version = version
        self.body = body
        #: The header lines as received, each after a CRLF ("\r\nName: value\r\nName: value").
        self.lines = lines
        self._headers = headers

    @property
    def headers(self) -> list[tuple[str, str]]:
        """(name, value) of each header, in order, repeats kept, white space around both stripped."""
        if self._headers is None:
            self._headers = []
            for line in self.lines.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                self._headers.append((name.strip(), value.strip()))
        return self._headers

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.reason!r}, {self.version!r}, {self.headers!r}, {self.body[:300]!r})"

    def all(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in order."""
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def header(self, name: str) -> str | None:
        """The first value of header ``name``, or None."""
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def has(self, name: str) -> bool:
        """Whether header ``name`` is there at all."""
        return self.header(name) is not None


def build_request(
    method: str,
    path: str,
    host: str,
    headers: Headers = (),
    body: bytes | str = b"",
    version: str = "HTTP/1.1",
) -> bytes:
    """The bytes of one request: Host first, then ``headers``; Content-Length with a body or for POST/PUT."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    head = f"{method} {path} {version}\r\nHost: {host}\r\n"
    for name, value in headers.items() if isinstance(headers, Mapping) else headers:
        head += f"{name}: {value}\r\n"
    if body or method in ("POST", "PUT"):
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "\r\n").encode("latin-1") + body


def parse_head(raw: bytes | bytearray) -> Response:
    """A response head (without its blank line) as a ``Response``; ProtocolError if the status line is not one."""
    text = raw.decode("latin-1")
    end = text.find("\r\n")
    if end < 0:
        end = len(text)
    version, _, rest = text[:end].partition(" ")
    code, _, reason = rest.partition(" ")
    try:
        status = int(code)
    except ValueError:
        raise ProtocolError(f"bad status line {text[:60]!r}") from None
    return Response(status, reason, version, None, b"", text[end:])


def _value(lines: str, lowered: str, prefix: str) -> str | None:
    """The value of the first header line of ``lines`` that starts (lower-cased) with ``prefix``."""
    start = lowered.find(prefix)
    if start < 0:
        return None
    start += len(prefix)
    end = lines.find("\r\n", start)
    return lines[start : end if end >= 0 else len(lines)].strip()


class HttpConnection:
    """One client connection speaking HTTP/1.x over a connected socket.

    ``buf`` holds what was received and not yet read (a bytearray: frames
    after a 101 are cut from it); ``peer_closed`` turns true at EOF. Reads
    take ``timeout``: seconds for the whole call, or None for
    ``self.timeout`` (None: each recv waits as long as the socket's own
    timeout; a read given a deadline leaves the socket's timeout at what
    was left of it). ``resets_are_eof`` reads a connection reset as the
    peer closing, as tests about aborted connections want.
    """

    __slots__ = (
        "sock",
        "host",
        "timeout",
        "resets_are_eof",
        "buf",
        "peer_closed",
        "method",
        "end_of_chunks",
        "_framing",
        "_left",
    )

    def __init__(
        self,
        sock: socket.socket,
        host: str = "127.0.0.1",
        *,
        timeout: float | None = None,
        resets_are_eof: bool = False,
    ) -> None:
        self.sock = sock
        self.host = host  # the Host header of send_request
        self.timeout = timeout
        self.resets_are_eof = resets_are_eof
        self.buf = bytearray()
        self.peer_closed = False
        #: The method of the last request sent by send_request (a HEAD answer has no body).
        self.method = "GET"
        #: The last chunk of a chunked body as it came: its size line, trailers, blank line.
        self.end_of_chunks = b""
        self._framing = NONE
        self._left = 0  # bytes left of a Content-Length body

    # -- requests ------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Send bytes as they are."""
        self.sock.sendall(data)

    def send_request(
        self, method: str, path: str, headers: Headers = (), body: bytes | str = b"", version: str = "HTTP/1.1"
    ) -> None:
        """Send a request built by ``build_request`` (Host: this connection's host)."""
        self.method = method
        self.sock.sendall(build_request(method, path, self.host, headers, body, version))

    # -- the socket ----------------------------------------------------------

    def deadline(self, timeout: float | None = None) -> float | None:
        """The monotonic time a call given ``timeout`` ends at (None: no deadline)."""
        if timeout is None:
            timeout = self.timeout
        return None if timeout is None else time.monotonic() + timeout

    def recv_some(self, deadline: float | None = None) -> bool:
        """One recv into ``buf``; False at EOF (``peer_closed``). TimeoutError once ``deadline`` has passed."""
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("deadline passed")
            self.sock.settimeout(left)
        try:
            data = self.sock.recv(RECV_SIZE)
        except ConnectionResetError:
            if not self.resets_are_eof:
                raise
            data = b""
        if not data:
            self.peer_closed = True
            return False
        self.buf += data
        return True

    def _need(self, n: int, deadline: float | None, what: str) -> None:
        """Receive until ``buf`` holds ``n`` bytes; ConnectionClosed if the peer closes first."""
        while len(self.buf) < n:
            if not self.recv_some(deadline):
                raise ConnectionClosed(f"connection closed in {what}: {bytes(self.buf[-300:])!r}")

    def _line(self, deadline: float | None, what: str) -> bytes:
        """The next CRLF-ended line of ``buf`` (without it)."""
        buf = self.buf
        end = buf.find(b"\r\n")
        while end < 0:
            if len(buf) > MAX_HEAD:
                raise ProtocolError(f"{what} never ended")
            if not self.recv_some(deadline):
                raise ConnectionClosed(f"connection closed in {what}: {bytes(buf[-300:])!r}")
            end = buf.find(b"\r\n")
        line = bytes(buf[:end])
        del buf[: end + 2]
        return line

    # -- answers -------------------------------------------------------------

    def read_head(self, timeout: float | None = None, method: str | None = None) -> Response:
        """Read the next answer's head (to a request of ``method``, by default the last one sent).

        The body is then read by ``read_body``, ``read_chunk`` or ``read_some``.
        """
        if timeout is None:
            timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        while end < 0:
            if len(buf) > MAX_HEAD:
                raise ProtocolError("response head too long")
            if not self.recv_some(deadline):
                raise ConnectionClosed(f"connection closed before a response head: {bytes(buf[:300])!r}")
            end = buf.find(b"\r\n\r\n")
        head = parse_head(buf[:end])
        del buf[: end + 4]
        status = head.status
        if status < 200 or status == 204 or status == 304 or (method or self.method) == "HEAD":
            self._framing = NONE  # no body
        else:
            self._frame(head)
        return head

    def _frame(self, head: Response) -> None:
        """How the body of this answer (one that has a body) ends (RFC 9112 section 6.3)."""
        lines = head.lines.lower()
        coding = _value(head.lines, lines, "\r\ntransfer-encoding:")
        length = None if coding is not None else _value(head.lines, lines, "\r\ncontent-length:")
        if coding is not None:
            self._framing = CHUNKED if coding.lower().rsplit(",", 1)[-1].strip() == "chunked" else CLOSE
        elif length is not None:
            try:
                self._left = int(length)
            except ValueError:
                raise ProtocolError(f"bad Content-Length {length!r}") from None
            self._framing = LENGTH if self._left else NONE
        else:
            self._framing = CLOSE

    @property
    def done(self) -> bool:
        """Whether the current answer's body has been read to its end."""
        return self._framing == NONE

    def read_body(self, timeout: float | None = None) -> bytes:
        """The rest of the current answer's body (all of it, right after ``read_head``)."""
        framing = self._framing
        if framing == NONE:
            return b""
        deadline = self.deadline(timeout)
        if framing == LENGTH:
            n = self._left
            buf = self.buf
            if len(buf) < n:
                self._need(n, deadline, "a response body")
            data = bytes(buf[:n])
            del buf[:n]
            self._framing = NONE
            return data
        if framing == CHUNKED:
            parts = []
            while (part := self._read_chunk(deadline)) is not None:
                parts.append(part)
            return b"".join(parts)
        self._framing = NONE  # CLOSE
        return self._read_to_close(deadline)

    def read_chunk(self, timeout: float | None = None) -> bytes | None:
        """The next chunk of a chunked body; None after the last one (its trailers read)."""
        return self._read_chunk(self.deadline(timeout))

    def _read_chunk(self, deadline: float | None) -> bytes | None:
        line = self._line(deadline, "a chunk-size line")
        try:
            size = int(line.split(b";", 1)[0], 16)
        except ValueError:
            raise ProtocolError(f"bad chunk-size line {line[:60]!r}") from None
        if size == 0:
            wire = [line]
            while trailer := self._line(deadline, "the trailers"):
                wire.append(trailer)
            self.end_of_chunks = b"\r\n".join(wire) + b"\r\n\r\n"
            self._framing = NONE
            return None
        self._need(size + 2, deadline, "a chunk")
        buf = self.buf
        if buf[size : size + 2] != b"\r\n":
            raise ProtocolError(f"chunk not ended by CRLF: {bytes(buf[size : size + 10])!r}")
        data = bytes(buf[:size])
        del buf[: size + 2]
        return data

    def read_some(self, timeout: float | None = None) -> bytes | None:
        """The next piece of the current body as it comes (a whole chunk of a chunked one); None at its end."""
        return self._read_some(self.deadline(timeout))

    def _read_some(self, deadline: float | None) -> bytes | None:
        framing = self._framing
        if framing == CHUNKED:
            return self._read_chunk(deadline)
        if framing == NONE:
            return None
        buf = self.buf
        if not buf and not self.recv_some(deadline):
            if framing == LENGTH:
                raise ConnectionClosed(f"connection closed with {self._left} bytes of the body to come")
            self._framing = NONE
            return None
        if framing == LENGTH:
            n = min(self._left, len(buf))
            self._left -= n
            if not self._left:
                self._framing = NONE
        else:
            n = len(buf)
        data = bytes(buf[:n])
        del buf[:n]
        return data

    def read_response(self, method: str | None = None, timeout: float | None = None) -> Response:
        """The next answer, head and body (``Response.body``)."""
        deadline = self.deadline(timeout)
        if deadline is None:
            head = self.read_head(None, method)
            head.body = self.read_body()
        else:
            head = self.read_head(deadline - time.monotonic(), method)
            head.body = self.read_body(deadline - time.monotonic())
        return head

    def round_trip(self, request: bytes, timeout: float | None = None) -> Response:
        """Send a request's bytes (``build_request``'s, built once) and read its whole answer."""
        self.sock.sendall(request)
        return self.read_response(None, timeout)

    # -- the raw stream ------------------------------------------------------

    def read_exactly(self, n: int, timeout: float | None = None) -> bytes:
        """The next ``n`` bytes as they came (frames after a 101, a body read raw)."""
        self._need(n, self.deadline(timeout), f"the next {n} bytes")
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_to_close(self, timeout: float | None = None) -> bytes:
        """Everything until the server closes the connection, as it came."""
        return self._read_to_close(self.deadline(timeout))

    def _read_to_close(self, deadline: float | None) -> bytes:
        while self.recv_some(deadline):
            pass
        data = bytes(self.buf)
        self.buf.clear()
        return data

    # -- the end -------------------------------------------------------------

    def abort(self) -> None:
        """Close with a TCP reset, as a network failure would."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        """Close the socket normally."""
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> HttpConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Raw(HttpConnection):
    """A test's connection to a running server (stdlib socket; ``connect`` may be gevent's).

    Reads wait ``timeout`` seconds unless told otherwise, a reset reads as
    the peer closing, and what was read of the current body is kept:
    ``body`` (bytes so far) and ``chunks`` (each whole chunk of a chunked
    one, as the server framed it), for checks on streaming answers.
    """

    def __init__(
        self,
        server: Address,
        timeout: float = TIMEOUT,
        connect: Callable[..., socket.socket] = socket.create_connection,
    ) -> None:
        sock = connect((server.host, server.port), timeout=timeout)
        super().__init__(sock, f"{server.host}:{server.port}", timeout=timeout, resets_are_eof=True)
        self.body = b""
        self.chunks: list[bytes] = []

    def read_head(self, timeout: float | None = None, method: str | None = None) -> Response:
        """Read the next answer's head; its body is then kept in ``body`` as it is read."""
        head = super().read_head(timeout, method)
        self.body = b""
        self.chunks = []
        return head

    def _read_some(self, deadline: float | None) -> bytes | None:
        chunked = self._framing == CHUNKED
        piece = super()._read_some(deadline)
        if piece is not None:
            self.body += piece
            if chunked:
                self.chunks.append(piece)
        return piece

    def read_body(self, timeout: float | None = None) -> bytes:
        """Read to the end of the current body; all of it (``body``)."""
        deadline = self.deadline(timeout)
        while self._read_some(deadline) is not None:
            pass
        return self.body

    def read_until(self, test: Callable[[bytes], bool], timeout: float | None = None) -> bytes:
        """Read the body until ``test(body)`` holds; ConnectionClosed if the body ends first."""
        deadline = self.deadline(timeout)
        while not test(self.body):
            if self._read_some(deadline) is None:
                if test(self.body):
                    break
                raise ConnectionClosed(f"body ended before expected data: {self.body[-300:]!r}")
        return self.body

    def wait_closed(self, timeout: float | None = None) -> bytes:
        """Read the rest of the body, then wait until the peer closes; returns what came after the body."""
        deadline = self.deadline(timeout)
        try:
            while self._read_some(deadline) is not None:
                pass
        except ConnectionClosed:  # closed mid-body: what came of it is in ``body``
            pass
        return self._read_to_close(deadline)

    def quiet_for(self, seconds: float) -> bool:
        """True when nothing arrives for ``seconds`` (for "request is held" checks)."""
        try:
            self.recv_some(time.monotonic() + seconds)
        except TimeoutError:
            return True
        return False

    def __enter__(self) -> Raw:
        return self


def http(
    server: Address,
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes, HTTPResponse]:
    """One plain HTTP request through http.client: (status, body, response)."""
    conn = HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response
    finally:
        conn.close()


def request(
    server: Address,
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
