"""Writing to a non-blocking socket without making anyone wait: ``SocketWriter``.

A send must never block the handler (or the event loop): ``SocketWriter``
writes straight to a non-blocking OS socket and leaves what it does not
take to a libev write watcher, written as the client reads. It tells its
owner when what waited has been written (``_drained``) or the connection
broke (``_lost``). A websocket read from the event loop writes through
one, and so does a streaming answer on a lent socket
(``transports.lentstream``); ``websocket.writers.GreenletWriter`` (TLS)
shares its base, ``Writer``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import gevent

if TYPE_CHECKING:  # pragma: no cover
    import _socket

    from gevent._types import _IoWatcher  # (the stubs' type of a loop's io watcher)


class Owner(Protocol):
    """Who a writer tells when what waited is written, or the connection broke."""

    def _drained(self) -> None: ...

    def _lost(self) -> None: ...


class Writer:
    """A writer that never blocks, whichever way it writes: the bytes waiting, the owner to tell, breaking off."""

    __slots__ = ("_owner", "_out", "broken")

    def __init__(self, owner: Owner) -> None:
        self._owner: Owner | None = owner
        self._out = bytearray()
        self.broken = False

    @property
    def buffered(self) -> int:
        """Bytes written but not yet taken by the client's TCP stack."""
        return len(self._out)

    def discard(self) -> None:
        """Throw away what waits and write no more (the owner hears nothing more)."""
        self.broken = True
        self._out.clear()
        self._owner = None  # (owner and writer refer to each other: no cycle left for the GC)

    def _fail(self) -> None:
        """The connection broke: stop, and tell the owner once."""
        owner = self._owner
        self.discard()
        if owner is not None:
            owner._lost()


class SocketWriter(Writer):
    """Writes to a non-blocking OS socket: now what it takes, the rest when it is writable.

    ``hold(head)`` keeps bytes to go out first, in the same send as the
    next write (an upgrade's 101 with the first frame: one syscall, one
    TCP segment); ``send_held()`` sends them alone when nothing is written
    right after.
    """

    __slots__ = ("_sock", "_watcher", "_held")

    def __init__(self, owner: Owner, sock: _socket.socket) -> None:
        super().__init__(owner)
        self._sock = sock  # a non-blocking socket whose send() never waits
        self._watcher: _IoWatcher | None = None  # a write watcher, while the socket is full
        self._held = b""  # to go out first, with the next write (``hold``)

    def hold(self, data: bytes) -> None:
        """Send ``data`` first, with the next ``write`` (in one send).

        The owner must make sure a write follows at once, or call
        ``send_held()``: nothing sends held bytes by itself. They are not
        ``buffered`` (nothing of them is written yet).
        """
        if not self.broken:
            self._held += data

    def send_held(self) -> None:
        """Send what ``hold`` kept, now, if no write took it."""
        if self._held:
            self.write(b"")

    def write(self, data: bytes) -> None:
        if self.broken:
            return
        if self._held:
            data = self._held + data
            self._held = b""
        out = self._out
        if out:  # behind already: keep the order, the watcher writes it
            out += data
            return
        try:
            sent = self._sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._fail()
            return
        if sent == len(data):
            return
        out += memoryview(data)[sent:]
        self._watcher = gevent.get_hub().loop.io(self._sock.fileno(), 2)
        self._watcher.start(self._on_writable)

    def _on_writable(self) -> None:
        try:
            sent = self._sock.send(self._out)
        except BlockingIOError:
            return
        except OSError:
            self._fail()
            return
        del self._out[:sent]
        if not self._out:
            self._stop_watcher()
            if self._owner is not None:
                self._owner._drained()

    def discard(self) -> None:
        super().discard()
        self._held = b""
        self._stop_watcher()

    def _stop_watcher(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.close()
            self._watcher = None
