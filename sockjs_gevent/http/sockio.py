"""Socket reads and writes of one connection, with deadlines and no per-call garbage.

The connection's greenlet does every operation on the non-blocking socket
first and waits only when the socket would block: then a libev io watcher
(made once per connection) and, when there is a deadline, a libev timer
wake it. Nothing is armed while the app runs, so a deadline can never fire
into application code; and a call that does not wait costs one syscall.

``PlainIO`` works on the OS socket under gevent's wrapper; ``TlsIO`` on a
gevent ``SSLSocket`` (whose reads may be satisfied by bytes OpenSSL already
decrypted, and whose writes may need the socket readable).
"""

from __future__ import annotations

import socket
from ssl import SSLError, SSLWantReadError, SSLWantWriteError
from typing import Any

from gevent import get_hub
from greenlet import getcurrent

_READ = 1
_WRITE = 2
_READY = object()
_EXPIRED = object()


class DeadlinePassed(OSError):
    """A deadline passed while waiting for the client."""


class Closed(OSError):
    """The connection was reset or closed under a write."""


class PlainIO:
    """Deadline-bounded I/O on a TCP (or Unix) socket."""

    __slots__ = ("sock", "_raw", "_loop", "_hub", "_reader", "_writer", "_idle_timer", "read_size")

    def __init__(self, sock: Any, read_size: int) -> None:
        self.sock = sock  # gevent's socket object (what the app may be given)
        self._raw = getattr(sock, "_sock", sock)  # the non-blocking OS socket
        self._hub = get_hub()
        self._loop = self._hub.loop
        self._reader: Any = None
        self._writer: Any = None
        self._idle_timer: Any = None  # made once, re-armed for every wait between requests
        self.read_size = read_size

    # -- waiting ------------------------------------------------------------

    def _wait(self, events: int, deadline: float | None, rearm: Any = None) -> None:
        """Block this greenlet until the socket is ready for ``events``; DeadlinePassed past ``deadline``.

        ``rearm``: a repeating timer to re-arm for this wait instead (no new timer per wait).
        """
        if events == _READ:
            watcher = self._reader
            if watcher is None:
                watcher = self._reader = self._loop.io(self._raw.fileno(), _READ)
        else:
            watcher = self._writer
            if watcher is None:
                watcher = self._writer = self._loop.io(self._raw.fileno(), _WRITE)
        if watcher.active:
            raise RuntimeError("two greenlets wait on one connection at once (a response written from two greenlets?)")
        switch = getcurrent().switch
        timer = None
        if rearm is not None:
            rearm.again(switch, _EXPIRED)
        elif deadline is not None:
            delay = deadline - self._loop.now()
            if delay <= 0:
                raise DeadlinePassed("deadline passed")
            timer = self._loop.timer(delay)
            timer.start(switch, _EXPIRED)
        watcher.start(switch, _READY)
        try:
            result = self._hub.switch()
        finally:
            watcher.stop()
            if timer is not None:
                timer.stop()
                timer.close()
            elif rearm is not None:
                rearm.stop()
        if result is _EXPIRED:
            raise DeadlinePassed("deadline passed")

    def now(self) -> float:
        return self._loop.now()

    # -- reading ------------------------------------------------------------

    def recv(self, deadline: float | None, wait_first: bool = False) -> bytes:
        """The next bytes from the client; b"" at end of stream (or on a reset).

        ``wait_first`` skips the first try when the caller knows nothing
        can be there yet (the client is still reading our answer).
        """
        if wait_first:
            self._wait(_READ, deadline)
        raw = self._raw
        size = self.read_size
        while True:
            try:
                return raw.recv(size)
            except BlockingIOError:
                pass
            except OSError:
                return b""  # reset: the same as an end of stream to us
            self._wait(_READ, deadline)

    def recv_idle(self, timeout: float | None) -> bytes:
        """Wait up to ``timeout`` s for the client's next request, then read it (b"" at the end).

        For the wait after an answer: the client is still reading it, so
        nothing is tried before the socket is readable.
        """
        timer = self._idle_timer
        if timer is None and timeout is not None:
            timer = self._idle_timer = self._loop.timer(timeout, timeout)
        raw = self._raw
        while True:
            self._wait(_READ, None, timer)
            try:
                return raw.recv(self.read_size)
            except BlockingIOError:
                continue  # woken for nothing
            except OSError:
                return b""

    # -- writing ------------------------------------------------------------

    def send(self, data: Any, deadline_after: float | None) -> None:
        """Write all of ``data``; each wait for the client to read gets ``deadline_after`` s."""
        raw = self._raw
        try:
            sent = raw.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise Closed(str(exc)) from None
        if sent == len(data):
            return
        view = memoryview(data)[sent:]
        while view:
            self._wait(_WRITE, None if deadline_after is None else self._loop.now() + deadline_after)
            try:
                sent = raw.send(view)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise Closed(str(exc)) from None
            view = view[sent:]

    # -- ending -------------------------------------------------------------

    def handshake(self, deadline: float | None) -> None:
        """Nothing to do for plain TCP."""

    def release(self) -> None:
        """Close the watchers (the socket itself is closed or handed over by the caller)."""
        for watcher in (self._reader, self._writer, self._idle_timer):
            if watcher is not None:
                watcher.stop()
                watcher.close()
        self._reader = self._writer = self._idle_timer = None

    def shutdown_write(self) -> None:
        try:
            self._raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def end_reading(self) -> None:
        """Make a waiting read see the end of the stream (the connection then ends itself)."""
        try:
            self._raw.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    def close(self) -> None:
        self.release()
        try:
            self.sock.close()
        except OSError:
            pass


class TlsIO(PlainIO):
    """The same over a gevent SSLSocket in non-blocking mode."""

    __slots__ = ()

    def __init__(self, sock: Any, read_size: int) -> None:
        super().__init__(sock, read_size)
        sock.settimeout(0.0)  # we wait ourselves, with our deadlines

    def handshake(self, deadline: float | None) -> None:
        sock = self.sock
        while True:
            try:
                sock.do_handshake()
                return
            except SSLWantReadError:
                self._wait(_READ, deadline)
            except SSLWantWriteError:
                self._wait(_WRITE, deadline)

    def recv_idle(self, timeout: float | None) -> bytes:
        # OpenSSL may hold decrypted bytes already: always try first.
        return self.recv(None if timeout is None else self._loop.now() + timeout)

    def recv(self, deadline: float | None, wait_first: bool = False) -> bytes:
        # OpenSSL may hold decrypted bytes already: always try first.
        sock = self.sock
        size = self.read_size
        while True:
            try:
                return sock.recv(size)
            except SSLWantReadError:
                self._wait(_READ, deadline)
            except SSLWantWriteError:
                self._wait(_WRITE, deadline)
            except DeadlinePassed:
                raise
            except (SSLError, OSError, ValueError):
                return b""

    def send(self, data: Any, deadline_after: float | None) -> None:
        sock = self.sock
        view = memoryview(data)
        while view:
            try:
                sent = sock.send(view)
            except SSLWantWriteError:
                sent = 0
                self._wait(_WRITE, None if deadline_after is None else self._loop.now() + deadline_after)
            except SSLWantReadError:
                sent = 0
                self._wait(_READ, None if deadline_after is None else self._loop.now() + deadline_after)
            except DeadlinePassed:
                raise
            except (SSLError, OSError, ValueError) as exc:
                raise Closed(str(exc)) from None
            view = view[sent:]

    def shutdown_write(self) -> None:
        # (on the TCP socket: SSLSocket.shutdown would drop the TLS state a last read needs)
        try:
            self._raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass
