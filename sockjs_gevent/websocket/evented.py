"""A WebSocket read from the event loop: no greenlet of its own.

Under sockjs_gevent's servers an upgraded connection's socket is handed
over (``take_socket``) and the request's greenlet ends; a libev read
watcher feeds the engine, and the session costs no greenlet but its
handler's. The socket is a plain non-blocking OS socket, not gevent's
wrapper (which keeps two watchers of its own per connection).
"""

from __future__ import annotations

import logging
import socket
from typing import Any, Protocol

import gevent

from .base import READ_SIZE, EngineWebSocket
from .engine import Engine
from .writers import SocketWriter

log = logging.getLogger("sockjs_gevent.websocket")


class Reader(Protocol):
    """Who is told what arrives (both called from the event loop; neither may block)."""

    def on_message(self, text: str) -> None: ...

    def on_end(self) -> None: ...


class EventLoopWebSocket(EngineWebSocket):
    """Reads with a libev watcher; ``start(reader)`` begins, ``reader.on_end()`` says it is over.

    After ``on_end``, ``release()`` closes the socket once the last bytes
    are out (or the close timer fires). When the client started the closing
    handshake, the engine is over as soon as its close is answered: the
    socket closes right after the echo and the FIN, with no wait for the
    client's EOF (a server closes the TCP connection first, RFC 6455 7.1.1).
    """

    __slots__ = ("_reader", "_watcher", "_release_when_drained", "_ending", "_fin_owed")

    def __init__(self, engine: Engine, sock: Any) -> None:
        super().__init__(engine, sock)
        self._writer = SocketWriter(self, sock)
        self._reader: Reader | None = None
        self._watcher: Any = None
        self._release_when_drained = False
        #: Reading ends in this callback: a FIN the engine asks for may wait for the close just after.
        self._ending = False
        #: The engine asked for the FIN, nothing waits to be written, and the socket is about to
        #: close (close() sends it): no shutdown(SHUT_WR) before the close.
        self._fin_owed = False

    def start(self, reader: Reader, pending: bytes = b"") -> None:
        """Begin reading; ``pending``: bytes that came with the handshake (a pipelined frame)."""
        self._reader = reader
        self._start_watching()
        if pending:
            gevent.get_hub().loop.run_callback(self._on_readable, pending)

    def _start_watching(self) -> None:
        if self._reader is None:
            return
        if self._watcher is None:
            self._watcher = gevent.get_hub().loop.io(self._sock.fileno(), 1)
        self._watcher.start(self._on_readable)

    def _stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()

    def _on_readable(self, data: bytes | None = None) -> None:
        """The socket is readable (the watcher's callback); or take ``data``: what came with the handshake,
        or ``b""`` to end."""
        if data is None:
            try:
                data = self._sock.recv(READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
        reader = self._reader
        if reader is None:
            return  # already ended
        engine = self._engine
        try:
            for text in engine.feed(data):
                reader.on_message(text)
            if not data or not engine.plain and engine.over:
                # Reading ends below, and the socket closes with it when nothing
                # waits to be written: a FIN the engine asks for goes with close().
                self._ending = True
                try:
                    if engine.has_output:
                        self._flush()
                    self._end_reading()
                    reader.on_end()
                finally:
                    self._ending = False
                    if self._fin_owed:  # the reader kept the socket open: the FIN goes now
                        self._fin_owed = False
                        self._shutdown(socket.SHUT_WR)
                return
            if engine.has_output:  # a read that only brought messages writes nothing
                self._flush()
            if self._cut:
                self._end_reading()
                reader.on_end()
        except Exception:  # a bug must not leave the session hanging in the event loop
            log.exception("websocket read failed; closing the connection")
            engine.fail(1011, "Internal error")
            self._flush()
            if self._reader is not None:  # (the failed engine has no message left: reading just ends)
                self._end_reading()
                reader.on_end()

    def _end_stream(self) -> None:
        if self._ending:
            self._fin_owed = True  # _close_socket, just after, or the end of _on_readable
        else:
            super()._end_stream()

    def _end_reading(self) -> None:
        self._reader = None
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.close()
            self._watcher = None

    def release(self) -> None:
        """Reading has ended: close the socket once what waits is written (or the close timer fires)."""
        if self._writer.buffered and not self._writer.broken:
            self._release_when_drained = True
            self.hang_up_later()
        else:
            self._close_socket()

    def _drained(self) -> None:
        super()._drained()
        if self._release_when_drained:
            self._close_socket()

    def _hang_up(self) -> None:
        super()._hang_up()
        if self._reader is None:
            self._close_socket()  # nobody reads it any more
        # else: the reader sees the end of the stream, ends the session, releases

    def _close_socket(self) -> None:
        self._end_reading()
        self._stop_close_timer()
        self._writer.discard()
        if self._fin_owed:
            # The engine ended the stream and everything is written: close()
            # sends the FIN (a shutdown first would be one more syscall).
            self._fin_owed = False
        elif not self._write_shut:  # (once it is, close() alone ends the connection)
            self._shutdown(socket.SHUT_RDWR)
        self._sock.close()
