"""Keep CPython's full GC passes short when many sessions are live.

With 10,000 sessions a process holds about 800,000 objects, and every full
(generation 2) collection walks them all: 0.6-0.8 s during which no session
is served, every minute or so under load. ``enable()`` freezes what
survives each full pass (``gc.freeze()``), so the next one walks only what
came since. Frozen objects are still freed by reference counting, and
sockjs_gevent makes no reference cycles; but a cycle of the application's
that was alive at a full pass and is abandoned later is never collected.
Hence opt-in: ``serve(..., freeze_gc=True)`` or ``--freeze-gc``.
"""

from __future__ import annotations

import gc
from typing import Any


def _after_full_pass(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


def enable() -> None:
    """Freeze the survivors of every full collection from now on (idempotent)."""
    if _after_full_pass not in gc.callbacks:
        gc.callbacks.append(_after_full_pass)


def disable() -> None:
    """Stop freezing, and give the frozen objects back to the collector."""
    if _after_full_pass in gc.callbacks:
        gc.callbacks.remove(_after_full_pass)
    gc.unfreeze()


def enabled() -> bool:
    return _after_full_pass in gc.callbacks
