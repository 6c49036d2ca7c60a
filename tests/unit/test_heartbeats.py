"""The heartbeat wheel's rule, on a clock the test moves: a heartbeat after 7/8 of the delay, never after it.

The wheel's timer is driven by hand (``turn`` at each tick time) so the
test is exact and instant; the real timer only decides when turns happen.
"""

from __future__ import annotations

import random

import pytest

from sockjs_gevent.transports.heartbeats import TICKS_PER_DELAY, HeartbeatWheel


class Clock:
    """Stands in for the event loop: ``now()`` and a timer that never fires by itself."""

    def __init__(self, start: float) -> None:
        self.time = start

    def now(self) -> float:
        return self.time

    def timer(self, after: float, repeat: float, ref: bool = True) -> Clock:
        return self

    def start(self, callback) -> None:
        self.callback = callback

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


class Member:
    """A session writer: records the silence before each heartbeat it is asked for."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.last_write = clock.now()
        self.done = False
        self.silences: list[float] = []

    def write(self) -> None:
        self.last_write = self.clock.now()

    def heartbeat(self) -> None:
        self.silences.append(self.clock.now() - self.last_write)
        self.write()


def make_wheel(delay: float, start: float) -> tuple[HeartbeatWheel, Clock]:
    clock = Clock(start)
    wheel = HeartbeatWheel(delay, loop=clock)
    assert wheel._tick == delay / TICKS_PER_DELAY and wheel._next == int(start / wheel._tick)
    return wheel, clock


@pytest.mark.parametrize("seed", range(5))
def test_heartbeats_come_after_seven_eighths_of_the_delay_and_never_after_it(seed: int) -> None:
    rng = random.Random(seed)
    delay = 25.0
    start = rng.uniform(0, 1000)
    wheel, clock = make_wheel(delay, start)
    phase = rng.uniform(0, wheel._tick)  # the timer's ticks are not aligned with the slots
    members = []
    turn_at = start + phase
    for step in range(4000):
        clock.time = turn_at
        if wheel._timer is not None:  # the timer runs while the wheel has members
            wheel._turn()
        for member in members:  # some write now and then between ticks
            if rng.random() < 0.02:
                clock.time = turn_at + rng.uniform(0, wheel._tick)
                member.write()
        if step < 200 and step % 2 == 0:  # members join at odd moments
            clock.time = turn_at + rng.uniform(0, wheel._tick)
            member = Member(clock)
            wheel.add(member)
            members.append(member)
        turn_at += wheel._tick
    silences = [s for m in members for s in m.silences]
    assert len(silences) > 1000
    assert min(silences) >= delay * 7 / 8 - 1e-9
    assert max(silences) <= delay + 1e-9


def test_a_member_that_is_done_is_dropped() -> None:
    wheel, clock = make_wheel(8.0, 100.0)
    member = Member(clock)
    wheel.add(member)
    member.done = True
    for _ in range(3 * TICKS_PER_DELAY):
        clock.time += wheel._tick
        if wheel._timer is not None:
            wheel._turn()
    assert member.silences == [] and wheel._slots == {} and wheel._timer is None
