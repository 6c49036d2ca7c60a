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

    ``limit``: at most this many run at once (gevent's ``Pool(size)``, as
    the gunicorn worker's ``worker_connections``): a server stops
    accepting while ``full()``, and resumes when one returns. It may be
    shared by several servers (a worker's listeners).

    Bound to the hub of the thread that builds it (as gevent's servers are
    to its loop). A function that raises is reported as gevent reports a
    greenlet's failure (``hub.handle_error``), and its greenlet goes on.
    """

    __slots__ = ("_hub", "_idle", "_busy", "_all_done", "_when_free", "max_idle", "limit", "spawned")

    def __init__(self, max_idle: int = DEFAULT_MAX_IDLE, limit: int | None = None) -> None:
        if isinstance(max_idle, bool) or not isinstance(max_idle, int) or max_idle < 0:
            raise ValueError(f"max_idle must be a whole number >= 0 (0: never reuse), got {max_idle!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"limit must be a whole number >= 1, or None for no limit; got {limit!r}")
        self._hub = get_hub()
        self._idle: list[greenlet] = []
        self._busy: set[greenlet] = set()  # running a function now
        self._all_done: Event | None = None  # made by the first join()
        self._when_free: list[Callable[[], Any]] = []  # told once, when no longer full
        self.max_idle = max_idle
        self.limit = limit
        #: Greenlets made so far (the others were reused): for tests and figures.
        self.spawned = 0

    @property
    def idle(self) -> int:
        """Greenlets parked now."""
        return len(self._idle)

    @property
    def running(self) -> int:
        """Functions given and not yet returned (those scheduled to start included)."""
        return len(self._busy)

    def full(self) -> bool:
        """True while ``limit`` functions run."""
        return self.limit is not None and len(self._busy) >= self.limit

    def when_free(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` once, as soon as one returns while full (a server resuming its accepts)."""
        if callback not in self._when_free:
            self._when_free.append(callback)

    def __call__(self, function: Callable[..., Any], *args: Any) -> None:
        idle = self._idle
        if idle:
            worker = idle.pop()
        else:
            worker = greenlet(self._work, parent=self._hub)
            self.spawned += 1
        self._busy.add(worker)
        # (in a list the greenlet empties: the arguments of a greenlet's first
        # switch stay referenced for as long as it lives)
        self._hub.loop.run_callback(worker.switch, [function, args])

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every function given has returned; False if ``timeout`` s passed first."""
        if not self._busy:
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
                self._returned(me)
            function = args = None  # (parked, it keeps nothing of the last one)
            if len(idle) >= self.max_idle:
                return
            idle.append(me)
            job = hub.switch()

    def _returned(self, worker: greenlet) -> None:
        busy = self._busy
        busy.discard(worker)
        if not busy and self._all_done is not None:
            self._all_done.set()
        if self._when_free and not self.full():
            waiting, self._when_free = self._when_free, []
            for callback in waiting:
                try:
                    callback()
                except Exception:  # (one waiter's failure is reported, and the others are still told)
                    self._hub.handle_error(callback, *sys.exc_info())

    def kill(self, timeout: float | None = None) -> bool:
        """Stop every running function with ``GreenletExit`` (its ``finally`` blocks run); True once all returned.

        Its greenlets end. Waits at most ``timeout`` s.
        """
        run_callback = self._hub.loop.run_callback
        current = getcurrent()
        for worker in list(self._busy):
            if worker is not current:
                # (after its start, for one only scheduled: callbacks run in order)
                run_callback(worker.throw, GreenletExit)
        return self.join(timeout)

    def clear(self) -> None:
        """End the parked greenlets, in the event loop's next turn (each holds its stacks until it ends)."""
        idle, self._idle = self._idle, []
        for worker in idle:
            self._hub.loop.run_callback(worker.throw)  # GreenletExit where it waits: it ends, back to the hub
