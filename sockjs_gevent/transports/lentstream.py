"""A streaming answer written from the event loop: no greenlet while it waits.

Under sockjs_gevent's own HTTP server a streaming transport (xhr-streaming,
eventsource, htmlfile) sends its head and prelude from the request's
greenlet, then borrows the socket (``http.lent``) and that greenlet ends.
One ``StreamLink`` per answer then does what the greenlet did: it is the
session's outlet (a new frame schedules one event-loop callback that
writes it), a read watcher notices a client that hung up, the shared wheel
sends heartbeats, and once the answer is complete (the close frame, or
``response_limit`` bytes) the socket goes back to the server for the
connection's next request.

Each frame is one write (one chunk). While the client has not taken the
last write, frames wait in the session, where ``max_queued_bytes`` bounds
them, and a client that leaves a write unread for the server's write
timeout is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import protocol
from ..http.lent import LentSocket
from ..peerwatch import HUNG_UP, NOTHING, SENT_MORE, peek
from ..session import Session
from ..sockwriter import SocketWriter
from .heartbeats import HeartbeatWheel, wheel
from .outlets import LoopOutlet

if TYPE_CHECKING:  # pragma: no cover
    from gevent._types import _IoWatcher, _TimerWatcher  # (the stubs' types of a loop's watchers)

#: The chunk that ends a chunked body.
LAST_CHUNK = b"0\r\n\r\n"

Frame = Callable[[str, str | None], bytes]


class StreamLink(LoopOutlet):
    """Writes one session's frames into one borrowed streaming answer, until it is complete."""

    __slots__ = (
        "session",
        "_lent",
        "_frame",
        "_callback",
        "_limit",
        "_sent",
        "_writer",
        "_watcher",
        "_timer",
        "_wheel",
    )

    def __init__(
        self, session: Session, lent: LentSocket, frame: Frame, callback: str | None, limit: int, sent: int = 0
    ) -> None:
        super().__init__()
        self.session: Session | None = session
        self._lent = lent
        self._frame = frame
        self._callback = callback
        self._limit = limit  # response_limit
        self._sent = sent  # body bytes written so far
        self._writer = SocketWriter(self, lent.sock)
        self._watcher: _IoWatcher | None = None  # reads: a client that hangs up
        self._timer: _TimerWatcher | None = None  # while a write waits for the client: its deadline
        self._wheel: HeartbeatWheel | None = None  # the heartbeat wheel, from start() until the end

    def start(self, heartbeat_delay: float) -> None:
        """Watch the client and write what is ready; the session must have this as its outlet."""
        self._watcher = self._loop.io(self._lent.sock.fileno(), 1)
        self._watcher.start(self._on_readable)
        self._wheel = wheel(heartbeat_delay)
        self._wheel.add(self)
        self.push()

    # -- frames out --------------------------------------------------------------

    def push(self) -> None:
        """Write the frames ready now, one write each, while the client keeps up."""
        self._scheduled = False
        session = self.session
        if session is None:  # (done: the link has let go of it)
            return
        writer = self._writer
        while not self.done and not writer.buffered:
            text = session.take_frame()
            if text is None:
                return
            self._write_frame(text)

    def heartbeat(self) -> None:
        """Silent for heartbeat_delay: ``h`` (unless the client has not read the last write yet)."""
        self.last_write = self._loop.now()
        if not self._writer.buffered:
            self._write_frame(protocol.HEARTBEAT_FRAME)

    def _write_frame(self, text: str) -> None:
        chunk = self._frame(text, self._callback)
        self._sent += len(chunk)
        self.last_write = self._loop.now()
        self._write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if self._lent.chunked else chunk)
        if self.done:
            return  # the write failed: the client is gone
        if text[0] == "c" or self._sent >= self._limit:
            self._complete()  # the close frame is out, or the client opens a new request for the rest

    def _write(self, data: bytes) -> None:
        writer = self._writer
        writer.write(data)
        if writer.buffered and self._timer is None and self._lent.write_timeout is not None:
            self._timer = self._loop.timer(self._lent.write_timeout)
            self._timer.start(self._write_timed_out)

    # -- the end -------------------------------------------------------------------

    def _complete(self) -> None:
        """The answer is complete: the session lets go; the socket goes back once written."""
        self._end()
        if self._lent.chunked:
            self._write(LAST_CHUNK)
        if not self._writer.buffered and not self._writer.broken:
            self._give_back()

    def _give_back(self) -> None:
        self._stop_timer()
        self._writer.discard()
        self._lent.give_back()

    def _abort(self) -> None:
        """The client is gone or stuck: drop the connection, and the session with it."""
        session = self._end()
        self._stop_timer()
        self._writer.discard()
        self._lent.close()
        if session is not None:
            session.abort()

    def _end(self) -> Session | None:
        """Write no more frames and let go of the session (which may expire; the wheel may hold
        this link a while yet). Returns the session if it was still attached."""
        session = self.session
        self.done = True
        self.session = None
        self._stop_reading()
        if self._wheel is not None:
            self._wheel.remove(self)  # (or it would hold this link, its socket and writer, up to heartbeat_delay)
            self._wheel = None
        if session is not None:
            session.detach(self)
        return session

    def hung_up(self) -> bool:
        """Whether the client has hung up, looked at now; if so the link ends as it would on the news."""
        if self.done or self._watcher is None:
            return self.done
        if peek(self._lent.sock) != HUNG_UP:
            return False
        self._abort()
        return True

    def _on_readable(self) -> None:
        found = peek(self._lent.sock)
        if found == NOTHING:
            return
        if found == SENT_MORE:
            # The client sent more (a pipelined request): it is alive, and its
            # bytes stay unread for the server once the answer is complete.
            self._stop_reading()
            return
        self._abort()

    def _write_timed_out(self) -> None:
        self._timer = None
        self._abort()

    def _stop_reading(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.close()
            self._watcher = None

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer.close()
            self._timer = None

    # -- the writer's news ------------------------------------------------------

    def _drained(self) -> None:
        """The client took what waited: go on writing, or hand the socket back."""
        self._stop_timer()
        if self.done:
            self._give_back()
        else:
            self.push()

    def _lost(self) -> None:
        """A write failed: the client is gone."""
        self._abort()
