"""A session's inbox: messages from the client waiting for the handler.

The inbox is bounded: it counts what it holds (``cost``: characters plus a
per-message overhead, so a payload of many empty messages is not free) and
tells the transports when it is past its limit, so they stop taking more
(a websocket stops reading; an HTTP send is refused) instead of letting a
client that sends faster than the handler reads grow the server without
bound. ``on_room`` wakes them when the handler has caught up.

gevent's ``Queue`` keeps three deques (about 2.5 KB) per session; an inbox
needs one deque, made when the first message comes. A reader with no
timeout waits on a ``Waiter`` of its own (the handler reading with
``for message in conn``: one greenlet switch back when a message comes,
no event to clear, set and notify through); a second reader at the same
time, or one with a timeout, waits on an event, made when first needed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import gevent
from gevent.event import Event
from gevent.hub import Waiter

from .budget import BUDGET
from .waiting import ENDED, Ended, wait_for

#: What one message costs beyond its characters: a str object and its slot.
MESSAGE_OVERHEAD = 64

#: A reader that finds messages waiting yields to other greenlets after this
#: many in a row, so one huge batch cannot keep every other session waiting.
YIELD_EVERY = 64


def cost(messages: list[str]) -> int:
    """What ``messages`` take in an inbox, in the unit of ``max_inbox_bytes``."""
    return sum(map(len, messages)) + MESSAGE_OVERHEAD * len(messages)


class Inbox:
    """FIFO of messages with a blocking ``get``; ``close()`` ends it once drained.

    ``limit`` is what it may hold; ``full`` says it holds more (the caller
    decides what to refuse); ``on_room(callback)`` calls back, once, when
    the reader has brought it down to half the limit.
    """

    __slots__ = ("_items", "_ready", "_waiter", "_closed", "queued", "limit", "_on_room", "_streak")

    def __init__(self, limit: int = 4 * 1024 * 1024) -> None:
        self._items: deque[str] | None = None
        self._ready: Event | None = None  # readers with a timeout, and any beside the one below
        self._waiter: Waiter[None] | None = None  # the one reader waiting with no timeout, if any
        self._closed = False
        #: The cost of what is waiting.
        self.queued = 0
        self.limit = limit
        self._on_room: Callable[[], object] | None = None
        self._streak = 0  # messages returned without waiting, since the last yield

    @property
    def full(self) -> bool:
        return self.queued > self.limit

    def has_room(self, amount: int) -> bool:
        """Whether ``amount`` more fits under the limit."""
        return self.queued + amount <= self.limit

    def put_many(self, messages: list[str], amount: int | None = None) -> None:
        """Add messages (``amount``: their cost, if the caller computed it)."""
        items = self._items
        if items is None:
            items = self._items = deque()
        items.extend(messages)
        amount = cost(messages) if amount is None else amount
        self.queued += amount
        BUDGET.take(amount)
        self._wake_reader()
        if self._ready is not None:
            self._ready.set()

    def _wake_reader(self) -> None:
        """The reader waiting on its ``Waiter`` takes again (from the event loop, as an event would wake it)."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None  # woken once: a second put before it runs schedules nothing more
            waiter.hub.loop.run_callback(waiter.switch, None)  # (its reader's hub)

    def on_room(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once the reader has taken the inbox down to half its limit."""
        if self.queued <= self.limit // 2:
            callback()
        else:
            self._on_room = callback

    def close(self) -> None:
        """No more messages: readers get None once the inbox is empty."""
        self._closed = True
        if self._waiter is not None:
            self._wake_reader()
        if self._ready is not None:
            self._ready.set()

    def drop(self) -> int:
        """Throw away what is waiting (its reader is gone or stuck); how many messages."""
        dropped = len(self._items or ())
        self._items = None
        BUDGET.release(self.queued)
        self.queued = 0
        self._wake_writer()
        return dropped

    def empty(self) -> bool:
        return not self._items

    def get(self, timeout: float | None = None) -> str | None:
        """The next message, waiting for one; None once closed and drained.

        Raises TimeoutError after ``timeout`` seconds with nothing to return.
        """
        while True:
            item = self._take()
            if item is not None:
                return None if item is ENDED else item
            if timeout is not None or self._waiter is not None:
                if self._ready is None:
                    self._ready = Event()
                item = wait_for(self._ready, self._take, timeout)
                if item is None:
                    raise TimeoutError(f"no message within {timeout} s")
                return None if item is ENDED else item
            # The common reader: no timeout, nobody else waiting. A late wake
            # (this greenlet was killed meanwhile) only finds its waiter spent.
            waiter: Waiter[None] = Waiter()
            self._waiter = waiter
            try:
                waiter.get()
            finally:
                if self._waiter is waiter:
                    self._waiter = None

    def _take(self) -> str | Ended | None:
        """A message, ``ENDED`` once closed and drained, or None."""
        items = self._items
        if not items:
            self._streak = 0
            return ENDED if self._closed else None
        self._streak += 1
        if self._streak >= YIELD_EVERY:
            self._streak = 0
            gevent.sleep(0)  # let other sessions run; the items stay ours
            return self._take()  # (dropped meanwhile, perhaps)
        message = items.popleft()
        taken = len(message) + MESSAGE_OVERHEAD
        self.queued -= taken
        BUDGET.release(taken)
        if self._on_room is not None and self.queued <= self.limit // 2:
            self._wake_writer()
        return message

    def _wake_writer(self) -> None:
        callback, self._on_room = self._on_room, None
        if callback is not None:
            callback()
