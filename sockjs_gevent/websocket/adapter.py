"""The same interface over gevent-websocket's ``wsgi.websocket`` object.

Kept so the app still mounts under ``geventwebsocket.handler.WebSocketHandler``;
that library's own limits (no origin check before 101, pure-Python
unmasking, lost close codes) apply on that path. Its sends block, so they
run in a writer greenlet fed from a queue.
"""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import gevent
from gevent.event import Event

from .base import CLOSE_TIMEOUT


class GeventWebSocketAdapter:
    """A gevent-websocket connection read by the request's greenlet, like ``BlockingWebSocket``."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._queue: deque[tuple[int, Callable[[], Any]]] = deque()
        self._queued = 0
        self._writer: gevent.Greenlet | None = None
        self._broken = False
        self._paused = 0
        self._unpaused: Event | None = None
        self.close_code: int | None = None
        self.close_reason = ""

    #: gevent-websocket negotiates no extensions.
    compressed = False

    @property
    def buffered(self) -> int:
        return self._queued

    def pause_reading(self, reason: int) -> None:
        """Stop reading (the next ``next_message`` waits) until ``resume_reading``."""
        self._paused |= reason

    def resume_reading(self, reason: int) -> None:
        self._paused &= ~reason
        if not self._paused and self._unpaused is not None:
            self._unpaused.set()

    def next_message(self) -> str | None:
        while self._paused and not self._broken:
            if self._unpaused is None:
                self._unpaused = Event()
            self._unpaused.clear()
            self._unpaused.wait()
        try:
            message = self._ws.receive()
        except Exception:  # its WebSocketError and socket errors alike: no clean close
            return None
        if message is None:
            if self._ws.closed and self.close_code is None:
                self.close_code = 1000  # a close frame came; gevent-websocket does not keep its code
            return None
        if isinstance(message, (bytes, bytearray)):
            try:
                return bytes(message).decode("utf-8")
            except UnicodeDecodeError:
                return None
        return message

    def _submit(self, size: int, operation: Callable[[], Any]) -> bool:
        if self._broken:
            return False
        self._queue.append((size, operation))
        self._queued += size
        if self._writer is None:
            self._writer = gevent.spawn(self._write_loop)
        return True

    def _write_loop(self) -> None:
        queue = self._queue
        try:
            while queue:
                size, operation = queue.popleft()
                operation()
                self._queued -= size
        except Exception:  # its WebSocketError and socket errors alike
            self._broken = True
            queue.clear()
        finally:
            self._queued = 0
            self._writer = None

    def send(self, text: str) -> bool:
        return self._submit(len(text), lambda: self._ws.send(text))

    def send_many(self, texts: Iterable[str]) -> bool:
        return all(self.send(text) for text in texts)

    def ping(self) -> bool:
        return self._submit(0, lambda: self._ws.send_frame(b"", self._ws.OPCODE_PING))

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._submit(0, lambda: self._ws.close(code, reason.encode("utf-8")))

    def abort(self) -> None:
        """Drop the connection with no closing handshake, once queued sends are out."""
        self._submit(0, self._drop)

    def _drop(self) -> None:
        handler = getattr(getattr(self._ws, "stream", None), "handler", None)
        sock = getattr(handler, "socket", None)
        self._broken = True
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def hang_up_later(self, delay: float = CLOSE_TIMEOUT) -> None:
        pass  # gevent-websocket owns its socket

    def finish(self) -> None:
        writer = self._writer
        if writer is not None:
            writer.join(CLOSE_TIMEOUT)
        try:
            self._ws.close()
        except Exception:
            pass
