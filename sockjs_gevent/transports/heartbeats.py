"""Heartbeats for many sessions from one timer.

A session is due a heartbeat ``delay`` seconds after it last wrote. A timer
per session, re-armed on every write, costs a libev watcher per idle
session and a call per message; instead each session keeps the time of its
last write (a float), and one ``HeartbeatWheel`` per delay ticks eight
times per delay, looks only at the sessions whose slot has come, and sends
``h`` to those that will have been silent for ``delay`` before the next
tick. A heartbeat so goes out between ``7/8 * delay`` and ``delay`` after
the last write, never later: a proxy whose idle timeout is above the delay
never sees a silent connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import gevent

if TYPE_CHECKING:  # pragma: no cover
    from gevent._types import _TimerWatcher  # (the stubs' type of a loop's timer)

#: Wheel ticks per heartbeat delay.
TICKS_PER_DELAY = 8


class Beating(Protocol):
    """A session's writer as the wheel sees it."""

    last_write: float  # loop time of its last write

    @property
    def done(self) -> bool: ...

    def heartbeat(self) -> None:
        """Write a heartbeat now (it sets ``last_write``)."""


class HeartbeatWheel:
    """Every member gets ``heartbeat()`` once it has written nothing for ``delay`` seconds.

    A member that ends calls ``remove`` (else it is dropped when its slot
    comes, once ``done``): a wheel that held ended members until then
    would keep each one, and all it refers to, up to ``delay`` (25 s by
    default) after its connection closed; at thousands of sessions a
    second, hundreds of thousands of objects that every full pass of the
    cyclic GC walks.
    """

    __slots__ = ("delay", "_tick", "_loop", "_slots", "_next", "_timer")

    def __init__(self, delay: float, loop: Any = None) -> None:
        """``loop``: the event loop whose clock and timers it uses (the hub's; a test passes a clock it moves)."""
        self.delay = delay
        self._tick = delay / TICKS_PER_DELAY
        self._loop = gevent.get_hub().loop if loop is None else loop
        #: slot -> its members (a dict as an ordered set). Members are due
        #: at most ``delay`` ahead, so about TICKS_PER_DELAY slots are held.
        self._slots: dict[int, dict[Beating, None]] = {}
        self._next = int(self._loop.now() / self._tick)  # the first slot not yet looked at
        self._timer: _TimerWatcher | None = None

    def add(self, member: Beating) -> None:
        """Watch ``member`` (until it is ``done``); its ``last_write`` must be set."""
        self._place(member, member.last_write + self.delay - self._tick)
        if self._timer is None:
            self._timer = self._loop.timer(self._tick, self._tick, ref=False)
            self._timer.start(self._turn)

    def remove(self, member: Beating) -> None:
        """Let go of ``member`` now (it has ended); nothing if the wheel does not hold it."""
        slots = self._slots
        for slot, members in slots.items():  # (a few slots: see ``_slots``)
            if member in members:
                del members[member]
                if not members:
                    del slots[slot]
                return

    def _place(self, member: Beating, due: float) -> None:
        """Put ``member`` in the slot of the first tick at or after ``due`` (never one already passed)."""
        slot = max(int(due / self._tick), self._next)
        members = self._slots.get(slot)
        if members is None:
            self._slots[slot] = {member: None}
        else:
            members[member] = None

    def _turn(self) -> None:
        now = self._loop.now()
        last = int(now / self._tick)
        # Beat now whoever would pass ``delay`` of silence before the next tick.
        early = self.delay - self._tick
        while self._next <= last:
            members = self._slots.pop(self._next, None)
            self._next += 1
            for member in members or ():
                if member.done:
                    continue
                due = member.last_write + early
                if due <= now:
                    member.heartbeat()
                    if member.done:
                        continue  # the heartbeat ended it (its client is gone)
                    due = member.last_write + early
                self._place(member, due)
        timer = self._timer  # (set: this is its callback)
        if not self._slots and timer is not None:
            timer.stop()
            timer.close()
            self._timer = None


_wheels: dict[float, HeartbeatWheel] = {}


def wheel(delay: float) -> HeartbeatWheel:
    """The process's wheel for ``delay`` (services with the same heartbeat_delay share one)."""
    found = _wheels.get(delay)
    if found is None:
        found = _wheels[delay] = HeartbeatWheel(delay)
    return found
