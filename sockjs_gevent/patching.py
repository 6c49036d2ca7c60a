"""Is the standard library cooperative? Handlers block; only gevent's monkey-patching makes that cheap.

A handler that calls ``requests.get``, ``urllib``, a database driver or
``time.sleep`` on an unpatched interpreter stops the whole process, every
other session with it, for as long as the call takes. ``serve()`` checks
before it starts and says how to fix it.
"""

from __future__ import annotations

import logging
import os

from gevent import monkey

from .channels.hub import REDIS_URL_ENV

log = logging.getLogger("sockjs_gevent")

FIX = (
    "put `from gevent import monkey; monkey.patch_all()` at the very top of your program, before other "
    "imports (python -m sockjs_gevent does it for you)"
)


def is_patched() -> bool:
    """True once gevent has patched the socket module (patch_all patches it first)."""
    return monkey.is_module_patched("socket")


def check_patched() -> None:
    """Warn when the standard library is not patched; fail when Redis channels are configured.

    The Redis backend's client uses ordinary sockets: unpatched, every
    session would close with 1011 at its first publish, so that is an
    error at start instead.
    """
    if is_patched():
        return
    if os.environ.get(REDIS_URL_ENV):
        raise RuntimeError(
            f"{REDIS_URL_ENV} is set, but gevent has not monkey-patched the standard library, so "
            f"Redis I/O would block every session: {FIX}"
        )
    log.warning(
        "gevent has not monkey-patched the standard library: a handler that calls blocking I/O (requests, "
        "urllib, a database driver, time.sleep) freezes every session while it waits. To fix it, %s.",
        FIX,
    )
