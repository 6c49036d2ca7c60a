"""Which worker holds a session: computed from the request path alone, the same in every worker."""

from __future__ import annotations

import zlib

#: The last path segment of the HTTP requests that belong to a session held
#: in one process. WebSocket sessions are not here: their one connection
#: carries the whole session, so any worker can hold it.
SESSION_TRANSPORTS = frozenset({"xhr", "xhr_send", "xhr_streaming", "eventsource", "htmlfile", "jsonp", "jsonp_send"})

#: Transports that only deliver client messages: for these, an unreachable
#: owner means the session is gone, which any worker can answer (404).
SENDING_TRANSPORTS = frozenset({"xhr_send", "jsonp_send"})


def session_route(path: str) -> tuple[str, str] | None:
    """``(session_id, transport)`` when ``path`` ends in ``/<server_id>/<session_id>/<transport>``.

    Any prefix may come before (several services, a Flask app): a path of
    that shape that no service answers is merely served by another worker,
    which answers it the same way.
    """
    end = path.rfind("/")
    if end <= 0:
        return None
    transport = path[end + 1 :]
    if transport not in SESSION_TRANSPORTS:
        return None
    middle = path.rfind("/", 0, end)
    if middle < 0:
        return None
    session = path[middle + 1 : end]
    start = path.rfind("/", 0, middle)
    if not session or "." in session or start < 0:
        return None
    server = path[start + 1 : middle]
    if not server or "." in server:
        return None
    return session, transport


def slot_of(session_id: str, slots: int) -> int:
    """The slot (0 .. slots-1) whose worker holds ``session_id``: CRC-32 of its bytes, so every process agrees."""
    return zlib.crc32(session_id.encode("latin-1", "replace")) % slots
