"""Small wire-level helpers for the conformance tests.

``http.client`` hides what some rules are about (chunking, exact preludes,
HTTP/1.0, aborted requests), so ``Raw`` speaks HTTP/1.x over a plain socket
and decodes bodies incrementally. ``Receiver`` reads SockJS frames out of a
streaming response. The WebSocket helpers are in rawws.py.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import struct
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterable
from urllib.parse import unquote


TIMEOUT = 5.0
NO_CACHE = "no-store, no-cache, no-transform, must-revalidate, max-age=0"
YEAR = "public, max-age=31536000"


def new_sid() -> str:
    """A random session id, so tests never share a session."""
    return uuid.uuid4().hex


def session_path(prefix: str, sid: str, transport: str, server_id: str = "000") -> str:
    return f"{prefix}/{server_id}/{sid}/{transport}"


# ---------------------------------------------------------------- responses


@dataclass
class Response:
    status: int
    reason: str = ""
    version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def has(self, name: str) -> bool:
        return bool(self.all(name))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def request(server, method: str, path: str, body: bytes | str | None = None,
            headers: dict[str, str] | None = None, timeout: float = TIMEOUT) -> Response:
    """One request over http.client; the answer with its exact header list."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, "HTTP/1.%d" % (r.version - 10), r.getheaders(), data)
    finally:
        conn.close()


# ---------------------------------------------------------------- raw HTTP


class Raw:
    """An HTTP/1.x client connection on a raw socket.

    ``read_head()`` parses the status line and headers; the body is then
    decoded (Content-Length, chunked or until close) into ``self.body`` as
    bytes arrive, so streaming answers can be read piece by piece.
    """

    def __init__(self, server, timeout: float = TIMEOUT):
        self.host, self.port = server.host, server.port
        self.sock = socket.create_connection((self.host, self.port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.peer_closed = False
        self.method = "GET"
        self._reset_body()

    def _reset_body(self) -> None:
        self.body = b""
        self.done = False
        self.mode = "none"
        self.remaining = 0
        self.chunk_left = -1  # -1: expecting a chunk-size line
        self.chunked_wire = b""  # raw chunked bytes of the current body
        #: The payload of each chunk of a chunked body, as the server framed it.
        self.chunks: list[bytes] = []

    # sending
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_request(self, method: str, path: str, headers: Iterable[tuple[str, str]] | dict = (),
                     body: bytes | str = b"", version: str = "HTTP/1.1") -> None:
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

    # receiving
    def recv_some(self, deadline: float) -> None:
        """One socket read into ``buf`` (``peer_closed`` on EOF); socket.timeout at ``deadline``."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.peer_closed = True
        self.buf += data

    def read_head(self, timeout: float | None = None) -> Response:
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if self.peer_closed:
                raise ConnectionError("connection closed before a response head: %r" % self.buf)
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
        if self.done:
            return
        if self.mode == "length":
            take = self.buf[: self.remaining]
            self.body += take
            self.buf = self.buf[len(take):]
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
                    self.buf = self.buf[end + 2:]
                    if size == 0:
                        self.chunk_left = -2  # trailers: wait for the empty line
                    else:
                        self.chunk_left = size
                        self.chunks.append(b"")
                elif self.chunk_left == -2:
                    end = self.buf.find(b"\r\n")
                    if end < 0:
                        return
                    line, self.buf = self.buf[:end], self.buf[end + 2:]
                    self.chunked_wire += line + b"\r\n"
                    if not line:
                        self.done = True
                elif self.chunk_left == 0:
                    if len(self.buf) < 2:
                        return
                    assert self.buf[:2] == b"\r\n", "bad chunk terminator %r" % self.buf[:10]
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
                    self.buf = self.buf[len(take):]
                    self.chunk_left -= len(take)

    def read_until(self, want: bytes | Callable[[bytes], bool], timeout: float | None = None) -> bytes:
        """Read body bytes until ``want`` (bytes in body, or a predicate) holds."""
        test = (lambda b: want in b) if isinstance(want, bytes) else want
        deadline = time.monotonic() + (timeout or self.timeout)
        while not test(self.body):
            if self.done or self.peer_closed:
                self._pump()
                if test(self.body):
                    break
                raise ConnectionError("body ended before expected data: %r" % self.body[-300:])
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
        except socket.timeout:
            return True
        self._pump()
        return False

    def abort(self) -> None:
        """Close with a TCP reset, as a network failure would."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Raw":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------- SockJS frames

HTMLFILE_HEAD = """<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.CALLBACK;
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>"""

# transport -> (method, request suffix, regex of one frame; group 1 is the frame data)
STREAMING = {
    "xhr_streaming": ("POST", "", re.compile(rb"([^\n]*)\n")),
    "eventsource": ("GET", "", re.compile(rb"data: (.*?)\r\n\r\n", re.S)),
    "htmlfile": ("GET", "?c=cb", re.compile(rb"<script>\np\((.*?)\);\n</script>\r\n", re.S)),
}


#: Fixed preludes (htmlfile's depends on the callback), and what ends one frame.
PRELUDES = {"xhr_streaming": b"h" * 2048 + b"\n", "eventsource": b"\r\n"}
FRAME_END = {"xhr_streaming": b"\n", "eventsource": b"\r\n\r\n", "htmlfile": b"</script>"}


def decode_frame(transport: str, data: bytes) -> str:
    if transport == "eventsource":
        return unquote(data.decode("utf-8"), errors="strict")
    if transport == "htmlfile":
        return json.loads(data.decode("utf-8"))
    return data.decode("utf-8")


def prelude_length(transport: str, body: bytes) -> int | None:
    """Length of the prelude once it has fully arrived, else None."""
    if transport == "xhr_streaming":
        return 2049 if len(body) >= 2049 else None
    if transport == "eventsource":
        return 2 if len(body) >= 2 else None
    end = body.find(b"\r\n\r\n")
    return end + 4 if end >= 0 else None


class Receiver:
    """A streaming receiving request (xhr_streaming, eventsource, htmlfile)."""

    def __init__(self, server, prefix: str, sid: str, transport: str = "xhr_streaming",
                 headers=(), version: str = "HTTP/1.1", server_id: str = "000", query: str | None = None):
        method, suffix, self.pattern = STREAMING[transport]
        self.transport = transport
        self.raw = Raw(server)
        path = session_path(prefix, sid, transport, server_id) + (suffix if query is None else query)
        self.raw.send_request(method, path, headers, version=version)
        self.head = self.raw.read_head()
        self.pos: int | None = None
        self.frame_sizes: list[int] = []

    def prelude(self, timeout: float | None = None) -> bytes:
        self.raw.read_until(lambda b: prelude_length(self.transport, b) is not None, timeout)
        self.pos = prelude_length(self.transport, self.raw.body)
        return self.raw.body[: self.pos]

    def frame(self, timeout: float | None = None) -> str:
        """The next frame, decoded to its SockJS text (``o``, ``a[...]``, ...)."""
        if self.pos is None:
            self.prelude(timeout)
        match: list = []

        def found(body: bytes) -> bool:
            m = self.pattern.match(body, self.pos)
            match[:] = [m] if m else []
            return m is not None

        self.raw.read_until(found, timeout)
        m = match[0]
        self.pos = m.end()
        self.frame_sizes.append(m.end() - m.start())
        return decode_frame(self.transport, m.group(1))

    def frame_or_end(self, timeout: float | None = None) -> str | None:
        """The next frame, or None when the response ended instead."""
        if self.pos is None:
            self.prelude(timeout)
        self.raw.read_until(lambda b: self.pattern.match(b, self.pos) is not None or self.raw.done, timeout)
        if self.pattern.match(self.raw.body, self.pos) is None:
            assert self.raw.body[self.pos:] == b"", "junk at the end: %r" % self.raw.body[self.pos:]
            return None
        return self.frame(timeout)

    def messages(self, count: int, timeout: float | None = None) -> list[str]:
        """Messages from ``a`` frames until ``count`` arrived (other frames fail)."""
        got: list[str] = []
        while len(got) < count:
            frame = self.frame(timeout)
            assert frame.startswith("a"), frame
            got += json.loads(frame[1:])
        return got

    def chunks(self, count: int, timeout: float | None = None) -> list[bytes]:
        """The first ``count`` chunks of the (chunked) answer, as the server wrote them."""
        raw = self.raw
        raw.read_until(lambda body: len(raw.chunks) >= count or raw.done, timeout)
        assert len(raw.chunks) >= count, f"the answer ended after {len(raw.chunks)} chunks: {[c[:40] for c in raw.chunks]!r}"
        return raw.chunks[:count]

    def units(self, count: int, timeout: float | None = None) -> list[str]:
        """Frames of the first ``count`` chunks after the prelude, each chunk exactly one unit.

        Asserts the first chunk is the whole prelude alone and every later
        chunk one whole frame: nothing merged, nothing split.
        """
        chunks = self.chunks(count + 1, timeout)
        prelude = chunks[0]
        assert prelude_length(self.transport, prelude) == len(prelude), f"first chunk is not the prelude alone: {prelude[-80:]!r}"
        assert prelude == PRELUDES.get(self.transport, prelude), prelude
        frames = []
        for chunk in chunks[1:]:
            m = self.pattern.fullmatch(chunk)
            one = m is not None and chunk.count(FRAME_END[self.transport]) == 1
            assert one, f"chunk is not exactly one {self.transport} frame: {chunk[:300]!r}"
            frames.append(decode_frame(self.transport, m.group(1)))
        self.pos = sum(len(c) for c in chunks)
        return frames

    def ended(self, timeout: float | None = None) -> bool:
        """Wait for the end of the response body; True if it ended with nothing more."""
        self.raw.read_body(timeout)
        return self.raw.body[self.pos:] == b""

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def poll(server, prefix: str, sid: str, transport: str = "xhr", headers=None,
         server_id: str = "000", timeout: float = TIMEOUT) -> tuple[Response, str]:
    """One polling request (xhr or jsonp); the answer and its single frame."""
    path = session_path(prefix, sid, transport, server_id)
    if transport == "xhr":
        r = request(server, "POST", path, b"", headers, timeout)
        assert r.status == 200, (r.status, r.body)
        assert r.body.endswith(b"\n") and r.body.count(b"\n") == 1, r.body
        return r, r.body[:-1].decode("utf-8")
    r = request(server, "GET", path + "?c=cb", None, headers, timeout)
    assert r.status == 200, (r.status, r.body)
    m = re.fullmatch(rb"/\*\*/cb\((.*)\);\r\n", r.body, re.S)
    assert m, r.body
    return r, json.loads(m.group(1))


def send(server, prefix: str, sid: str, messages: list[str], server_id: str = "000",
         content_type: str | None = "text/plain") -> Response:
    """xhr_send a list of messages; asserts the 204."""
    headers = {"Content-Type": content_type} if content_type else {}
    r = request(server, "POST", session_path(prefix, sid, "xhr_send", server_id),
                json.dumps(messages), headers)
    assert r.status == 204, (r.status, r.body)
    return r


def open_session(server, prefix: str = "/echo") -> str:
    """A new session opened with an xhr poll (which answered ``o``)."""
    sid = new_sid()
    _, frame = poll(server, prefix, sid)
    assert frame == "o"
    return sid


def messages_of(frame: str) -> list[str]:
    assert frame.startswith("a["), frame
    return json.loads(frame[1:])


def collect(server, prefix: str, sid: str, count: int, transport: str = "xhr") -> list[str]:
    """Poll until ``count`` messages arrived (heartbeats skipped)."""
    got: list[str] = []
    while len(got) < count:
        _, frame = poll(server, prefix, sid, transport)
        if frame != "h":
            got += messages_of(frame)
    return got


def alive(server) -> None:
    """The server still answers a normal request."""
    r = request(server, "GET", "/echo/info")
    assert r.status == 200 and json.loads(r.body)["origins"] == ["*:*"]
