"""A request body a client must send at a minimum rate.

A per-read timeout lets a client send one byte just before each timeout
and hold a greenlet for as long as it likes (slowloris, on the body). This
wrapper of ``wsgi.input`` gives the whole body a budget instead: ``grace``
seconds, plus one second per ``min_rate`` bytes received so far. A client
that falls behind gets ``BodyTooSlow`` (a ``TimeoutError``) on its read.
"""

from __future__ import annotations

import time
from typing import Any, Iterator, Optional

import gevent


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

    def read(self, length: Optional[int] = None) -> bytes:
        return self._timed(self._input.read, length)

    def readline(self, size: Optional[int] = None) -> bytes:
        return self._timed(self._input.readline, size)

    def readlines(self, hint: Optional[int] = None) -> list[bytes]:
        lines = []
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
