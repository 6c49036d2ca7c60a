"""What every server-side WebSocket here does, whoever reads it: sending, closing, flow control."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

import gevent

from .engine import Engine
from .writers import GreenletWriter, SocketWriter

#: How long to wait for the client's close frame or EOF after we close.
CLOSE_TIMEOUT = 5.0
#: Bytes asked of the socket per read.
READ_SIZE = 65536
#: Reading stops while more than this waits to be written (the client is
#: not reading): its pings would otherwise pile up pongs without bound.
OUTPUT_HIGH_WATER = 256 * 1024
#: Why reading is paused (``pause_reading``), as bits.
PAUSED_FOR_INBOX = 1
PAUSED_FOR_OUTPUT = 2
PAUSED_FOR_BUDGET = 4  # the process holds more than its budget (sockjs_gevent.budget)


class EngineWebSocket:
    """An ``Engine`` and a writer: the sending half and the flow control of a WebSocket.

    Sends never block; ``buffered`` tells how much the client has not
    taken yet. Subclasses read: ``EventLoopWebSocket`` from libev,
    ``BlockingWebSocket`` in a greenlet; each sets ``_writer`` (a
    ``SocketWriter`` or ``GreenletWriter``) as it is built.
    """

    __slots__ = ("_engine", "_sock", "_writer", "_paused", "_close_timer", "_end_output", "_cut", "_write_shut")

    _writer: SocketWriter | GreenletWriter

    def __init__(self, engine: Engine, sock: Any) -> None:
        self._engine = engine
        self._sock = sock  # None when the server hides it (then only its write function is known)
        self._paused = 0  # PAUSED_FOR_* bits; reading goes on when 0
        self._close_timer: Any = None
        self._end_output = False  # shut the write side once what waits is written
        #: The connection is over on our side (cut, or a write failed): the
        #: reader must see the end, never pause again.
        self._cut = False
        #: Our side of the stream is ended (shutdown SHUT_WR or SHUT_RDWR done): closing
        #: the socket needs no shutdown first, which would fail once the client closed too.
        self._write_shut = False

    # -- what the client said ---------------------------------------------------

    @property
    def close_code(self) -> int | None:
        """The code of the client's close frame (None: it sent none, e.g. it vanished)."""
        return self._engine.close_code

    @property
    def close_reason(self) -> str:
        return self._engine.close_reason

    @property
    def buffered(self) -> int:
        return self._writer.buffered

    @property
    def compressed(self) -> bool:
        """permessage-deflate was agreed with the client."""
        return self._engine.compressed

    # -- sending ----------------------------------------------------------------

    def send(self, text: str) -> bool:
        """Send one text message; False once the connection is no longer open."""
        return self.send_many((text,))

    def send_many(self, texts: Iterable[str]) -> bool:
        """Send several text messages in one write; False once the connection is no longer open."""
        return self.send_counted(texts) >= 0

    def send_counted(self, texts: Iterable[str]) -> int:
        """``send_many``, telling ``buffered`` after it: -1 once the connection is no longer open."""
        engine = self._engine
        writer = self._writer
        data = engine.frame_now(texts)
        if data is None:  # something goes first (a pong, a close), or the protocol frames: the long way
            if not engine.send_texts(texts) or not self._flush():
                return -1
            return writer.buffered
        # _flush() of what frame_now() framed, which cannot end the stream.
        if writer.broken:
            return -1
        if not data:
            return writer.buffered  # (nothing to send: no write, which would send what the writer holds)
        writer.write(data)
        buffered = writer.buffered
        if buffered > OUTPUT_HIGH_WATER:
            self.pause_reading(PAUSED_FOR_OUTPUT)
        return -1 if writer.broken else buffered

    def ping(self) -> bool:
        return self._engine.ping() and self._flush()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake; hang up if the client does not answer in time."""
        self.hang_up_later()
        self._engine.close(code, reason)
        self._flush()

    def abort(self) -> None:
        """Drop the connection now, with no closing handshake.

        What the socket took already (a last message) has gone out; what
        waits is discarded. The client sees the stream end, not a clean close.
        """
        self._stop_close_timer()
        self._hang_up()

    def hang_up_later(self, delay: float = CLOSE_TIMEOUT) -> None:
        """Cut the connection in ``delay`` s unless it ends first (a client that never answers a close)."""
        if self._close_timer is None and not self._cut:
            self._close_timer = gevent.get_hub().loop.timer(delay)
            self._close_timer.start(self._hang_up)

    def _flush(self) -> bool:
        """Hand the engine's output to the writer; False once the connection is broken."""
        data, eof = self._engine.output()
        writer = self._writer
        if writer.broken:
            return False
        if data:
            writer.write(data)
            if writer.buffered > OUTPUT_HIGH_WATER:
                self.pause_reading(PAUSED_FOR_OUTPUT)
        if eof:
            if writer.buffered:
                self._end_output = True  # once the rest is written (_drained)
            else:
                self._end_stream()
        return not writer.broken

    def _end_stream(self) -> None:
        """The engine ended the stream and nothing waits to be written: send the FIN."""
        self._shutdown(socket.SHUT_WR)

    # -- the writer's news ------------------------------------------------------

    def _drained(self) -> None:
        """What waited in the writer is written: reading may go on, the write side may end.

        (A write the socket takes at once calls nothing: nothing waited.)
        """
        if self._paused & PAUSED_FOR_OUTPUT:
            self.resume_reading(PAUSED_FOR_OUTPUT)
        if self._end_output:
            self._end_output = False
            self._shutdown(socket.SHUT_WR)

    def _lost(self) -> None:
        """A write failed: the client is gone. A paused reader must still find out."""
        self._cut = True
        self._shutdown(socket.SHUT_RDWR)
        if self._paused:
            self._unpause()

    # -- flow control -------------------------------------------------------------

    def pause_reading(self, reason: int) -> None:
        """Stop reading for ``reason`` (a PAUSED_FOR_* bit): TCP pushes back on the client."""
        if self._cut:
            return  # the reader must get to the end
        if not self._paused:
            self._stop_watching()
        self._paused |= reason

    def resume_reading(self, reason: int) -> None:
        """``reason`` is gone; reading goes on once no reason is left."""
        if self._paused & reason:
            self._paused &= ~reason
            if not self._paused:
                self._unpause()

    def _unpause(self) -> None:
        self._paused = 0
        self._start_watching()

    def _stop_watching(self) -> None:
        """Reading pauses (the subclass stops its reader)."""

    def _start_watching(self) -> None:
        """Reading goes on (the subclass restarts its reader)."""

    # -- ending ------------------------------------------------------------------

    def _hang_up(self) -> None:
        """Cut the connection: nothing more is written, and the reader sees the end."""
        self._close_timer = None
        self._cut = True
        self._writer.discard()
        self._shutdown(socket.SHUT_RDWR)
        if self._paused:
            self._unpause()  # a paused reader must see the end, or the session never ends

    def _stop_close_timer(self) -> None:
        if self._close_timer is not None:
            self._close_timer.stop()
            self._close_timer.close()
            self._close_timer = None

    def _shutdown(self, how: int) -> None:
        if self._sock is None or (how == socket.SHUT_WR and self._write_shut):
            return
        if how != socket.SHUT_RD:
            self._write_shut = True
        try:
            self._sock.shutdown(how)
        except OSError:
            pass
