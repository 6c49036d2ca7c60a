"""Greenlets that serve one connection after another: a new connection without the cost of a new greenlet.

A new greenlet costs about 10 us on CPython 3.11-3.13, most of it the
16 KiB frame stack the interpreter maps (``mmap``) for the greenlet's first
Python call and unmaps when it dies, with the page faults in between; a
websocket or xhr-streaming open that lasts a single request pays it whole.
``ReusingSpawner`` is an ``HttpServer``'s default ``spawn``: a greenlet
whose connection has ended waits, parked, for the next one (at most
``max_idle`` wait; the others end), and handing it a connection costs one
switch.

What a connection sees is what a fresh greenlet gives it: each runs in a
new, empty ``contextvars.Context``. Greenlet-local state (``gevent.local``,
``threading.local`` once monkey-patched) is the exception, as in a thread
pool: what a connection's code leaves there, a later connection served by
the same greenlet finds (and already, every request of a kept-alive
connection did). Keep per-request state in the WSGI environ or in context
variables; ``HttpServer(spawn=gevent.spawn)`` gives each connection its own
greenlet again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextvars import Context
from typing import Any

from gevent import get_hub
from gevent.event import Event
from greenlet import GreenletExit, getcurrent, greenlet

#: Parked greenlets kept at most, by default: about 20 KiB each (its frame
#: stack and saved C stack), so at most about 1.3 MiB held.
DEFAULT_MAX_IDLE = 64


class ReusingSpawner:
    """``spawn(function, *args)`` for a server: runs it in a parked greenlet when one waits, else in a new one.

    Bound to the hub of the thread that builds it (as gevent's servers are
    to its loop). A function that raises is reported as gevent reports a
    greenlet's failure (``hub.handle_error``), and its greenlet goes on.
    """

    __slots__ = ("_hub", "_idle", "_all_done", "max_idle", "spawned", "running")

    def __init__(self, max_idle: int = DEFAULT_MAX_IDLE) -> None:
        if isinstance(max_idle, bool) or not isinstance(max_idle, int) or max_idle < 0:
            raise ValueError(f"max_idle must be a whole number >= 0 (0: never reuse), got {max_idle!r}")
        self._hub = get_hub()
        self._idle: list[greenlet] = []
        self._all_done: Event | None = None  # made by the first join()
        self.max_idle = max_idle
        #: Greenlets made so far (the others were reused): for tests and figures.
        self.spawned = 0
        #: Functions given and not yet returned (or scheduled to start).
        self.running = 0

    @property
    def idle(self) -> int:
        """Greenlets parked now."""
        return len(self._idle)

    def __call__(self, function: Callable[..., Any], *args: Any) -> None:
        idle = self._idle
        if idle:
            worker = idle.pop()
        else:
            worker = greenlet(self._work, parent=self._hub)
            self.spawned += 1
        self.running += 1
        # (in a list the greenlet empties: the arguments of a greenlet's first
        # switch stay referenced for as long as it lives)
        self._hub.loop.run_callback(worker.switch, [function, args])

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every function given has returned; False if ``timeout`` s passed first."""
        if not self.running:
            return True
        done = self._all_done
        if done is None:
            done = self._all_done = Event()
        done.clear()
        return done.wait(timeout)

    def _work(self, job: list[Any]) -> None:
        """A greenlet's life: run what it was given, park, run the next, until too many are parked."""
        hub = self._hub
        idle = self._idle
        me = getcurrent()
        while True:
            function, args = job
            job.clear()
            try:
                Context().run(function, *args)
            except GreenletExit:
                return  # killed: it ends, as a gevent Greenlet would
            except BaseException:  # (as a gevent Greenlet: reported, SystemExit passed on to the main greenlet)
                hub.handle_error(me, *sys.exc_info())
            finally:
                self._returned()
            function = args = None  # (parked, it keeps nothing of the last one)
            if len(idle) >= self.max_idle:
                return
            idle.append(me)
            job = hub.switch()

    def _returned(self) -> None:
        self.running -= 1
        if not self.running and self._all_done is not None:
            self._all_done.set()

    def clear(self) -> None:
        """End the parked greenlets, in the event loop's next turn (each holds its stacks until it ends)."""
        idle, self._idle = self._idle, []
        for worker in idle:
            self._hub.loop.run_callback(worker.throw)  # GreenletExit where it waits: it ends, back to the hub
