"""``wsgi.input``: the request body as a stream, read from the socket only when asked.

Bytes reach a body from the parser (``feed``); when the app wants more than
has arrived, the body asks its connection to read the socket (``pull``).
The server itself never reads the socket while the app runs, so a waiting
request can watch it for a client that hung up (see ``peerwatch``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from .errors import BodyError, BodyTimeout, ClientDisconnected, MalformedBody, RequestBodyTooLarge

__all__ = [
    "BodyError",
    "BodySource",
    "BodyTimeout",
    "ClientDisconnected",
    "MalformedBody",
    "RequestBody",
    "RequestBodyTooLarge",
]


class BodySource(Protocol):
    """Where a body's bytes come from: the connection (``HttpConnection``)."""

    def pull(self, body: RequestBody) -> None:
        """Read more of ``body`` from the socket; raises BodyError."""

    def read_upgraded(self) -> bytes:
        """After a 101: the next bytes of the new protocol (b"" when none will come)."""


class RequestBody:
    """A request's ``wsgi.input``: ``read``, ``readline``, ``readlines``, iteration, ``peek``.

    ``peek(n)`` returns bytes already received without waiting (the WebSocket
    engine takes what a client pipelined after its upgrade request that way).
    """

    __slots__ = ("_source", "_buf", "complete", "received", "error", "discard", "upgrade", "started")

    def __init__(self, source: BodySource | None) -> None:
        self._source = source  # the connection, until the request is over
        self._buf = bytearray()
        self.complete = False
        self.received = 0
        self.error: BodyError | None = None
        self.discard = False  # read away and drop (draining for keep-alive)
        self.upgrade = False
        self.started: float | None = None  # when the first wait for bytes began

    # -- filled by the connection --------------------------------------------

    def feed(self, data: bytes) -> None:
        self.received += len(data)
        if not self.discard:
            self._buf += data

    def leftover(self, data: bytes) -> None:
        """Bytes after an upgrade request's head: the new protocol's first bytes."""
        self.upgrade = True
        self.complete = True
        if data:
            self._buf += data

    def discard_from(self, source: BodySource) -> None:
        """Drop what is buffered and all that comes; ``source`` reads the rest (draining for keep-alive)."""
        self.discard = True
        self._buf.clear()
        self._source = source

    def detach(self) -> None:
        """The request is over: reads return what is buffered, then end."""
        self._source = None

    # -- the stream the app reads --------------------------------------------

    def _more(self) -> bool:
        """Wait for more bytes; False when no more will come."""
        if self.error is not None:
            raise self.error
        source = self._source
        if source is None:
            return False
        if self.complete:
            if self.upgrade:
                data = source.read_upgraded()
                if data:
                    self._buf += data
                    return True
            return False
        source.pull(self)
        if self.error is not None:
            raise self.error
        return True

    def read(self, size: int | None = -1) -> bytes:
        buf = self._buf
        if size is None or size < 0:
            while not self.complete and self._more():
                pass
            data = bytes(buf)
            buf.clear()
            return data
        if len(buf) < size and not (self.upgrade and buf):
            while len(buf) < size and self._more():
                if self.upgrade:
                    break  # a stream after the upgrade: give what came
        data = bytes(buf[:size])
        del buf[:size]
        return data

    def read1(self, size: int = -1) -> bytes:
        """At most ``size`` bytes, waiting only if none are buffered."""
        buf = self._buf
        if not buf:
            self._more()
        if size is None or size < 0:
            size = len(buf)
        data = bytes(buf[:size])
        del buf[:size]
        return data

    def peek(self, size: int = 0) -> bytes:
        """Buffered bytes, without waiting and without consuming them."""
        buf = self._buf
        return bytes(buf[:size] if size > 0 else buf)

    def readline(self, size: int | None = -1) -> bytes:
        buf = self._buf
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end >= 0:
                end += 1
                break
            if size is not None and 0 <= size <= len(buf):
                end = size
                break
            start = len(buf)
            if not self._more():
                end = len(buf)
                break
        if size is not None and 0 <= size < end:
            end = size
        data = bytes(buf[:end])
        del buf[:end]
        return data

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def close(self) -> None:
        """Nothing to close: the server owns the connection."""


#: The ``wsgi.input`` of every request without a body (no Content-Length,
#: or 0, and not chunked): shared, since it never holds a byte.
EMPTY_BODY = RequestBody(None)
EMPTY_BODY.complete = True
