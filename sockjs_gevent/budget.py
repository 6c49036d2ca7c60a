"""The process-wide budget for bytes held on behalf of clients: every inbox and every outbox together.

Each session bounds its own inbox (``max_inbox_bytes``) and outbox
(``max_queued_bytes``), but many sessions that each stay under their
bounds can still hold more than the machine has: 150 sessions that each
fill a 4 MiB inbox held 600 MB. ``BUDGET`` adds them all up. Past its
``limit``:

- an HTTP send (xhr_send, jsonp_send) is answered 503 (the client may send
  it again later; sockjs-client closes the session);
- a WebSocket stops reading (the message that crossed the limit is
  delivered; TCP then pushes back on the client) until the held bytes are
  back under three quarters of the limit;
- a new session is refused with 1013 "Server busy".

Nothing already accepted is dropped, and what a handler sends is never
refused: the outboxes count, so that inbound data and new sessions wait
while they are large. The limit is ``SOCKJS_GEVENT_MAX_BUFFERED_BYTES``
from the environment (default 512 MiB), or ``configure(n)``
(``serve(max_buffered_bytes=n)``, ``--max-buffered-bytes``, Flask's
``SOCKJS_MAX_BUFFERED_BYTES``). Counted in the stats (``over_budget`` per
service; ``budget`` in /stats) and the metrics (``sockjs_buffered_bytes``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

#: Where the default limit comes from, and the default itself.
LIMIT_ENV = "SOCKJS_GEVENT_MAX_BUFFERED_BYTES"
DEFAULT_LIMIT = 512 * 1024 * 1024


class Budget:
    """Bytes held for clients in this process, against ``limit``."""

    __slots__ = ("limit", "held", "resume_at", "_waiting")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        #: What every inbox and outbox of the process holds now.
        self.held = 0
        #: Paused readers resume once ``held`` is down to this.
        self.resume_at = limit * 3 // 4
        self._waiting: list[Callable[[], Any]] = []

    def configure(self, limit: Any) -> None:
        """Set the limit (bytes, an int of at least 1 MiB; anything else raises ValueError saying so)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1024 * 1024:
            raise ValueError(f"max_buffered_bytes must be an int of at least 1 MiB (1048576), got {limit!r}")
        self.limit = limit
        self.resume_at = limit * 3 // 4
        self.release(0)

    def over(self) -> bool:
        return self.held > self.limit

    def fits(self, amount: int) -> bool:
        """Whether ``amount`` more bytes keep the process within its limit."""
        return self.held + amount <= self.limit

    def take(self, amount: int) -> None:
        self.held += amount

    def release(self, amount: int) -> None:
        self.held -= amount
        if self._waiting and self.held <= self.resume_at:
            waiting, self._waiting = self._waiting, []
            for callback in waiting:
                callback()

    def on_room(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` once ``held`` is back under ``resume_at`` (at once if it is)."""
        if self.held <= self.resume_at:
            callback()
        else:
            self._waiting.append(callback)

    def snapshot(self) -> dict[str, int]:
        return {"held": self.held, "limit": self.limit, "paused_readers": len(self._waiting)}


def _limit_from_environment() -> int:
    text = os.environ.get(LIMIT_ENV)
    if not text:
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        raise ValueError(f"{LIMIT_ENV} must be a number of bytes, got {text!r}") from None
    if limit < 1024 * 1024:
        raise ValueError(f"{LIMIT_ENV} must be at least 1 MiB (1048576), got {limit}")
    return limit


#: The process's budget.
BUDGET = Budget(_limit_from_environment())


def configure(max_buffered_bytes: Any) -> None:
    """Set the process's limit (see the module docstring)."""
    BUDGET.configure(max_buffered_bytes)


def configure_from_environment() -> None:
    """Read ``$SOCKJS_GEVENT_MAX_BUFFERED_BYTES`` again (a worker whose environment was set after this import)."""
    if os.environ.get(LIMIT_ENV):
        BUDGET.configure(_limit_from_environment())
