"""Request bodies on the pywsgi path: a minimum rate, and a bound on reading away what the app left.

A per-read timeout lets a client send one byte just before each timeout
and hold a greenlet for as long as it likes (slowloris, on the body).
``MinRateInput``, a wrapper of ``wsgi.input``, gives the whole body a
budget instead: ``grace`` seconds, plus one second per ``min_rate`` bytes
received so far. A client that falls behind gets ``BodyTooSlow`` (a
``TimeoutError``) on its read.

After the answer, pywsgi reads away the rest of a body the app did not
read (to reach the next request on the connection), with no bound at all:
a client trickling a large body held the connection for as long as it
liked. ``BoundedDrainInput`` (pywsgi's ``Input``) reads away at most
``max_drain`` bytes within ``timeout`` seconds, as the httptools server
does (``HttpConfig.max_drain_size``, ``linger_timeout``), and tells whether
it got to the end; if not, the handler closes the connection.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import gevent
from gevent.pywsgi import Input

if TYPE_CHECKING:

    class _PywsgiInput(Input):
        """pywsgi's ``Input`` with what gevent has and its stubs leave out."""

        _chunked_input_error: bool

else:
    _PywsgiInput = Input


class BodyTooSlow(TimeoutError):
    """The request body arrived slower than the server's minimum rate."""


class MinRateInput:
    """``wsgi.input`` that must keep up with ``min_rate`` bytes/s after ``grace`` seconds."""

    __slots__ = ("_input", "_start", "_grace", "_rate", "_received")

    def __init__(self, stream: Any, grace: float, min_rate: float) -> None:
        self._input = stream
        self._start = time.monotonic()
        self._grace = grace
        self._rate = min_rate
        self._received = 0

    def _timed(self, method: Any, *args: Any) -> Any:
        budget = self._start + self._grace + self._received / self._rate - time.monotonic()
        if budget <= 0:
            raise BodyTooSlow("the request body arrived too slowly")
        with gevent.Timeout(budget, BodyTooSlow("the request body arrived too slowly")):
            data = method(*args)
        self._received += len(data)
        return data

    def read(self, length: int | None = None) -> bytes:
        return self._timed(self._input.read, length)

    def readline(self, size: int | None = None) -> bytes:
        return self._timed(self._input.readline, size)

    def readlines(self, hint: int | None = None) -> list[bytes]:
        lines: list[bytes] = []
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line


class BoundedDrainInput(_PywsgiInput):
    """pywsgi's ``Input`` whose ``_discard`` (after the answer) reads at most ``max_drain`` bytes within ``timeout`` s.

    ``drained`` is then True if the body was read to its end (the
    connection can serve a next request), and ``deadline`` the monotonic
    time by which the connection should be closed if it was not.
    """

    __slots__ = ("max_drain", "timeout", "drained", "deadline")
    max_drain: int
    timeout: float
    drained: bool
    deadline: float | None

    @classmethod
    def replacing(cls, stream: Input, max_drain: int, timeout: float) -> BoundedDrainInput:
        """The same input as ``stream``, which nobody has read yet, with bounds."""
        bounded = cls(stream.rfile, stream.content_length, socket=stream.socket, chunked_input=stream.chunked_input)
        bounded.max_drain = max_drain
        bounded.timeout = timeout
        bounded.drained = False
        bounded.deadline = None
        return bounded

    def _discard(self) -> None:
        self.deadline = time.monotonic() + self.timeout
        self.drained = False
        if self._chunked_input_error:
            return  # the stream is in an unknown state: close
        if not self.chunked_input:
            left = (self.content_length or 0) - self.position
            if left <= 0:
                self.drained = True
                return
            if left > self.max_drain:
                return  # too much to wait for: close
        elif self.chunk_length == 0:
            self.drained = True  # the app read the last chunk
            return
        if self.socket is not None:
            return  # the client waits for a 100 Continue before it sends the body: close instead
        budget = self.max_drain
        self.send_100_continue_enabled = False
        timeout = gevent.Timeout(self.timeout)
        timeout.start()
        try:
            while budget >= 0:
                data = self.read(min(16384, budget + 1))
                if not data:
                    self.drained = True
                    return
                budget -= len(data)
        except gevent.Timeout as expired:
            if expired is not timeout:
                raise
        finally:
            timeout.close()
            self.send_100_continue_enabled = True
