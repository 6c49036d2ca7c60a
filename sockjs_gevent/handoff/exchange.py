"""``HandOff``: this worker's slot, and the passing of client connections to the worker that holds their session.

Every worker serving one port holds a numbered slot (see ``slots``) and
listens on the slot's Unix socket. A worker that reads a request for a
session another slot owns (``owner``) sends that worker the connection:
its descriptor and the bytes read so far (``wire``); the owner serves it
as if it had accepted it. Bounds: one second (``timeout``) to reach the
owner, waiting while it restarts or while its queue is full; a message
larger than ``wire.MAX_MESSAGE`` is not sent; peers must run as this user.
"""

from __future__ import annotations

import errno
import logging
import os
import socket as stdlib_socket
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import gevent
from gevent import socket
from gevent.lock import BoundedSemaphore

from . import wire
from .owner import session_route, slot_of
from .slots import Slots, default_directory

log = logging.getLogger("sockjs_gevent.handoff")

#: Environment variables the project's runner sets for its workers.
SLOTS_ENV = "SOCKJS_GEVENT_HANDOFF_SLOTS"
_RETRY = 0.05  # seconds between tries to reach a worker that is (re)starting
_SEND_BUFFER = 1024 * 1024


class HandOffStats:
    """What this worker's hand-offs did: counters for ``/stats`` and Prometheus."""

    __slots__ = ("sent", "received", "unreachable", "too_large", "dropped", "slot", "slots")

    def __init__(self, slots: int) -> None:
        self.sent = 0  # connections handed to their session's worker
        self.received = 0  # connections taken from another worker
        self.unreachable = 0  # the owner did not take one within the timeout
        self.too_large = 0  # more bytes read than one message carries: served here
        self.dropped = 0  # malformed messages or connections gone before they were adopted
        self.slot: int | None = None
        self.slots = slots

    def snapshot(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


class HandOff:
    """The hand-off of one worker among ``slots.count`` on one machine."""

    #: The one serving in this process (for ``/stats`` and the metrics).
    active: HandOff | None = None

    def __init__(self, slots: Slots, timeout: float = 1.0) -> None:
        self.slots = slots
        self.timeout = timeout
        self.stats = HandOffStats(slots.count)
        self.servers: list[Any] = []
        self._listener: Any = None
        self._tasks: set[gevent.Greenlet] = set()
        self._peers: dict[int, Any] = {}
        self._locks: dict[int, BoundedSemaphore] = {}
        self._closed = False

    @classmethod
    def for_addresses(
        cls, addresses: Iterable[str], slots: int, directory: str | None = None, timeout: float = 1.0
    ) -> HandOff | None:
        """The hand-off of ``slots`` workers listening on ``addresses``; None for a single worker (nothing to hand)."""
        if slots <= 1:
            return None
        return cls(Slots(directory or default_directory(addresses), slots), timeout)

    @property
    def slot(self) -> int | None:
        return self.slots.held

    # -- holding a slot ---------------------------------------------------------

    def claim(
        self,
        heartbeat: Callable[[], Any] | None = None,
        alive: Callable[[], bool] = lambda: True,
        interval: float = 0.05,
    ) -> int | None:
        """Wait (cooperatively) until this worker holds a slot; None if ``alive()`` turned false first.

        ``heartbeat`` is called while waiting (gunicorn's ``notify``, so the
        arbiter does not take a waiting worker for a stuck one).
        """
        waited = False
        while alive():
            slot = self.slots.claim()
            if slot is not None:
                self.stats.slot = slot
                if waited:
                    log.info("took slot %d of %d", slot, self.slots.count)
                return slot
            if not waited:
                log.info(
                    "every one of the %d slots is held (a reload or an upgrade?): waiting for one", self.slots.count
                )
                waited = True
            if heartbeat is not None:
                heartbeat()
            gevent.sleep(interval)
        return None

    def serve(self, servers: Sequence[Any]) -> None:
        """Take hand-offs for ``servers`` (the same listeners, in the same order, in every worker)."""
        if self.slot is None:
            raise RuntimeError("claim() a slot before serve()")
        if len(servers) > 255:
            raise ValueError("at most 255 listeners per worker with hand-off")
        self.servers = list(servers)
        for index, server in enumerate(self.servers):
            server.handoff = self
            server.handoff_index = index
        path = self.slots.socket_path(self.slot)
        try:
            os.unlink(path)  # a dead holder's (we hold the lock now)
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener.bind(path)
        listener.listen(128)
        self._listener = listener
        self._spawn(self._accept)
        HandOff.active = self

    def close(self) -> None:
        """Stop taking hand-offs and give the slot up (a worker on its way out)."""
        if self._closed:
            return
        self._closed = True
        self.slots.release()  # removes the socket file first: peers see the slot free at once
        if self._listener is not None:
            self._listener.close()
        for peer in self._peers.values():
            peer.close()
        self._peers.clear()
        gevent.killall(list(self._tasks), block=False)

    def _spawn(self, function: Callable[..., Any], *args: Any) -> None:
        task = gevent.spawn(function, *args)
        self._tasks.add(task)
        task.link(self._tasks.discard)

    # -- deciding -----------------------------------------------------------------

    def owner(self, path: str) -> tuple[int, str] | None:
        """``(slot, transport)`` when ``path`` is a session request another slot holds; None to serve it here."""
        route = session_route(path)
        if route is None:
            return None
        slot = slot_of(route[0], self.slots.count)
        if slot == self.slots.held:
            return None
        return slot, route[1]

    # -- sending --------------------------------------------------------------------

    def send(self, slot: int, fd: int, listener: int, data: bytes, address: Any = None) -> bool:
        """Hand the connection ``fd`` (from ``address``) to ``slot``'s worker; False if it could not take it in time.

        On True the peer has the descriptor: the caller closes its own.
        """
        if len(data) + 64 > wire.MAX_MESSAGE:
            self.stats.too_large += 1
            return False
        deadline = time.monotonic() + self.timeout
        lock = self._locks.get(slot)
        if lock is None:
            lock = self._locks[slot] = BoundedSemaphore()
        if not lock.acquire(timeout=self.timeout):
            self.stats.unreachable += 1
            return False
        try:
            while not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                peer = self._peers.get(slot)
                try:
                    if peer is None:
                        peer = self._connect(slot, left)
                    peer.settimeout(left)
                    wire.send(peer, fd, listener, data, address)
                except (socket.timeout, TimeoutError):
                    break  # reached, but its queue stayed full
                except OSError as exc:  # not there (restarting, gone), or the connection to it broke: try again
                    if peer is not None:
                        peer.close()
                        self._peers.pop(slot, None)
                    if exc.errno == errno.EMSGSIZE:
                        self.stats.too_large += 1
                        return False
                    gevent.sleep(min(_RETRY, max(0.0, deadline - time.monotonic())))
                    continue
                self.stats.sent += 1
                return True
        finally:
            lock.release()
        self.stats.unreachable += 1
        return False

    def _connect(self, slot: int, timeout: float) -> Any:
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
            peer.settimeout(timeout)
            peer.connect(self.slots.socket_path(slot))
        except BaseException:
            peer.close()
            raise
        self._peers[slot] = peer
        return peer

    # -- receiving --------------------------------------------------------------------

    def _accept(self) -> None:
        listener = self._listener
        while not self._closed:
            try:
                peer, _ = listener.accept()
            except OSError:
                if self._closed:
                    return
                gevent.sleep(_RETRY)  # out of descriptors, say: try again shortly
                continue
            if not _same_user(peer):
                log.warning("refused a hand-off connection from another user")
                peer.close()
                continue
            self._spawn(self._receive, peer)

    def _receive(self, peer: Any) -> None:
        try:
            while True:
                try:
                    handed = wire.receive(peer)
                except OSError:
                    return
                if handed is None:
                    return
                if isinstance(handed, str):
                    self.stats.dropped += 1
                    log.warning("dropped a hand-off: %s", handed)
                    continue
                self._adopt(handed)
        finally:
            peer.close()

    def _adopt(self, handed: wire.Handed) -> None:
        if handed.family and handed.listener < len(self.servers):  # the sender said what it is: no system call
            self.stats.received += 1
            client = socket.socket(handed.family, socket.SOCK_STREAM, 0, fileno=handed.fd)
            self.servers[handed.listener].adopt(client, handed.address, handed.data)
            return
        try:
            client = socket.socket(fileno=handed.fd)
        except OSError:
            stdlib_socket.close(handed.fd)
            self.stats.dropped += 1
            return
        try:
            if client.type != socket.SOCK_STREAM or handed.listener >= len(self.servers):
                raise OSError("not a connection of ours")
            address = client.getpeername()
        except OSError:  # the client hung up meanwhile (ENOTCONN), or junk
            client.close()
            self.stats.dropped += 1
            return
        self.stats.received += 1
        self.servers[handed.listener].adopt(client, address, handed.data)


def _same_user(peer: Any) -> bool:
    """Whether the process at the other end of a Unix socket runs as this user (SO_PEERCRED)."""
    try:
        credentials = peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return False
    _, uid, _ = struct.unpack("3i", credentials)
    return uid == os.getuid()


def from_environment(addresses: Iterable[str]) -> HandOff | None:
    """The hand-off the project's runner set up for this worker (``SOCKJS_GEVENT_HANDOFF_SLOTS``), or None."""
    count = os.environ.get(SLOTS_ENV)
    if not count:
        return None
    return HandOff.for_addresses(addresses, int(count))
