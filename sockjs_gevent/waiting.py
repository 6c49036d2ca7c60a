"""Waiting for something a greenlet or callback makes ready, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from gevent.event import Event

T = TypeVar("T")


def wait_for(event: Event, take: Callable[[], T | None], timeout: float | None = None) -> T | None:
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
