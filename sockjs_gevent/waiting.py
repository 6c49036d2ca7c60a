"""Waiting for something a greenlet or callback makes ready, with a deadline."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import Final, TypeVar

from gevent import Timeout
from gevent.event import Event

T = TypeVar("T")


class Ended(enum.Enum):
    """The type of ``ENDED`` (an enum, so that ``x is ENDED`` narrows a type)."""

    ENDED = "ended"


#: What a ``take`` (or a queue) gives once nothing more will come: closed, and read to the end.
ENDED: Final = Ended.ENDED


def wait_for(event: Event, take: Callable[[], T], timeout: float | None = None) -> T:
    """The first value of ``take()`` that is not None, waiting on ``event`` between tries.

    Whoever makes a value ready sets ``event``. It is cleared before each
    wait (nothing can set it between ``take()`` and the clear: greenlets
    only switch while waiting). Returns None when ``timeout`` seconds pass
    with nothing to take.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        value = take()
        if value is not None:
            return value
        event.clear()
        if deadline is None:
            event.wait()
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not event.wait(remaining):
            return take()


def quiet_timeout(seconds: float | None) -> Timeout:
    """``with quiet_timeout(seconds):`` leaves the block when time is up, raising nothing.

    It is ``gevent.Timeout(seconds, False)``: gevent documents False as the
    exception of a timeout its with-block swallows, but the stubs
    (types-gevent) leave False out of the argument's type.
    """
    return Timeout(seconds, False)  # type: ignore[arg-type]  # (False: gevent's documented silent timeout)
