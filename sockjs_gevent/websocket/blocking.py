"""A WebSocket read by a greenlet that blocks on it (the request's, under other servers or TLS).

Under gevent's stock pywsgi handler, or over TLS, the socket is not handed
over: the request's greenlet reads it until the end (``next_message()``), then
``finish()`` lets the output drain and the client close. Writes still never
block the sender: to the non-blocking socket directly, or through a writer
greenlet for TLS.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from gevent.event import Event

from ..waiting import quiet_timeout
from .base import CLOSE_TIMEOUT, READ_SIZE, EngineWebSocket
from .engine import Engine
from .writers import GreenletWriter, SocketWriter


class BlockingWebSocket(EngineWebSocket):
    """Read with ``next_message()`` in one greenlet; call ``finish()`` when it returns None."""

    __slots__ = ("_read", "_pending", "_messages", "_eof", "_unpaused", "_drained_event")

    def __init__(
        self,
        engine: Engine,
        sock: Any,
        read: Callable[[int], bytes],
        write: Callable[[bytes], Any] | None = None,
        pending: bytes = b"",
    ) -> None:
        """``write``: a blocking write function (TLS, or a server that hides the socket);
        without it the OS socket under gevent's ``sock`` is written directly, never blocking."""
        super().__init__(engine, sock)
        if write is None:
            self._writer = SocketWriter(self, sock._sock)
        else:
            self._writer = GreenletWriter(self, write)
        self._read = read
        self._pending = pending  # bytes that came with the handshake
        self._messages: deque[str] = deque()
        self._eof = False
        self._unpaused: Event | None = None
        self._drained_event: Event | None = None

    def next_message(self) -> str | None:
        """The next text message; None once the connection is over."""
        messages = self._messages
        while not messages:
            if self._eof:
                return None
            while self._paused and not self._eof:
                if self._unpaused is None:
                    self._unpaused = Event()
                self._unpaused.clear()
                self._unpaused.wait()
            if self._pending:
                data, self._pending = self._pending, b""
            else:
                try:
                    data = self._read(READ_SIZE)
                except (OSError, ValueError):  # ValueError: a TLS socket we already shut down
                    data = b""
            messages.extend(self._engine.feed(data))
            self._flush()
            if not data or self._engine.over or self._cut:
                self._eof = True
        return messages.popleft()

    def _start_watching(self) -> None:
        if self._unpaused is not None:
            self._unpaused.set()

    def _drained(self) -> None:
        super()._drained()
        if self._drained_event is not None:
            self._drained_event.set()

    def _lost(self) -> None:
        super()._lost()
        self._eof = True
        if self._drained_event is not None:
            self._drained_event.set()

    def _hang_up(self) -> None:
        self._eof = True
        super()._hang_up()

    def finish(self) -> None:
        """After the session: let the output drain and the client close, then hang up."""
        with quiet_timeout(CLOSE_TIMEOUT):
            if self._writer.buffered and not self._writer.broken:
                self._drained_event = Event()
                self._drained_event.wait()
            while not self._eof and self.next_message() is not None:
                pass
        self._stop_close_timer()
        self._hang_up()
