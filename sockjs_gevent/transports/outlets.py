"""Outlets: what a transport attaches to a session so that its frames go out to the client.

A session has one outlet at a time (``Session.attach``) and wakes it, never
blocking, when there is something to write (the ``session.Outlet``
protocol). A ``GreenletOutlet`` wakes the request's greenlet, which waits
and writes (polling; streaming where the socket cannot be lent); a
``LoopOutlet`` writes from the event loop itself (``WebSocketLink``,
``StreamLink``).
"""

from __future__ import annotations

import gevent
from gevent.event import Event

from ..peerwatch import PeerWatch


class GreenletOutlet:
    """An outlet whose ``wake()`` sets an event the request's greenlet waits on.

    ``peer`` (a ``PeerWatch``, set once the request watches its client)
    answers ``hung_up()``.
    """

    __slots__ = ("wakeup", "peer")

    def __init__(self) -> None:
        self.wakeup = Event()
        self.peer: PeerWatch | None = None

    def wake(self) -> None:
        self.wakeup.set()

    def hung_up(self) -> bool:
        """Whether this outlet's client has closed its connection (looked at now)."""
        return self.peer is not None and self.peer.hung_up()


class LoopOutlet:
    """An outlet that writes from the event loop: ``wake()`` schedules one ``push()`` per batch.

    Messages the handler sends before it next yields go out in the same
    push. Subclasses write in ``push`` (which must reset ``_scheduled``) and
    set ``done`` when nothing more may be written.
    """

    __slots__ = ("_loop", "_scheduled", "done", "last_write")

    def __init__(self) -> None:
        self._loop = gevent.get_hub().loop
        self._scheduled = False
        #: No more writes: the connection is closing or gone.
        self.done = False
        #: Loop time of the last write (the heartbeat wheel reads it).
        self.last_write = self._loop.now()

    def wake(self) -> None:
        if not self._scheduled and not self.done:
            self._scheduled = True
            self._loop.run_callback(self.push)

    def push(self) -> None:
        raise NotImplementedError
