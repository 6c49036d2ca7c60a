"""A session's inbox: messages from the client waiting for the handler.

gevent's ``Queue`` keeps three deques (about 2.5 KB) per session; an inbox
needs one deque, made when the first message comes, and one event, made
when a reader first has to wait.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Iterable, Optional

from gevent.event import Event


class Inbox:
    """FIFO of messages with a blocking ``get``; ``close()`` ends it once drained."""

    __slots__ = ("_items", "_ready", "_closed")

    def __init__(self) -> None:
        self._items: Optional[deque[str]] = None
        self._ready: Optional[Event] = None
        self._closed = False

    def put_many(self, messages: Iterable[str]) -> None:
        items = self._items
        if items is None:
            items = self._items = deque()
        items.extend(messages)
        if self._ready is not None:
            self._ready.set()

    def close(self) -> None:
        """No more messages: readers get None once the inbox is empty."""
        self._closed = True
        if self._ready is not None:
            self._ready.set()

    def empty(self) -> bool:
        return not self._items

    def get(self, timeout: Optional[float] = None) -> Optional[str]:
        """The next message, waiting for one; None once closed and drained.

        Raises TimeoutError after ``timeout`` seconds with nothing to return.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            items = self._items
            if items:
                return items.popleft()
            if self._closed:
                return None
            ready = self._ready
            if ready is None:
                ready = self._ready = Event()
            ready.clear()
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not ready.wait(remaining) and not self._items and not self._closed:
                raise TimeoutError(f"no message within {timeout} s")
