"""Counters for one service, and a JSON endpoint to read them.

    stats = stats_app(echo, chat)   # a WSGI app: mount it where only operators can reach it

Never includes session ids: only counts by transport, by kind and by close
code, and close codes are grouped (``close_code_label``) so that what
clients choose cannot make the counters grow without bound.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sized
from typing import Any, Protocol

from .budget import BUDGET
from .handoff import HandOff
from .responses import JSON, NO_CACHE, Environ, StartResponse, respond

#: Close codes counted as themselves: those RFC 6455 defines (1000-1003,
#: 1005-1011, 1015) or registered beside them (1012-1014), SockJS's 2010
#: "Another connection still open", and 3003 "Forbidden", the default code
#: of ``Refuse`` (docs/protocol.md section 2 lists the codes this server sends).
STANDARD_CLOSE_CODES = frozenset((*range(1000, 1004), *range(1005, 1016), 2010, 3003))


def close_code_label(code: object) -> str:
    """The label a session's close code is counted under.

    Clients choose close codes (a websocket client may close with any of
    3000-4999), so counting each as itself would let one client add a key
    to ``Stats.sessions_closed`` and a Prometheus series per code. A
    standard code (``STANDARD_CLOSE_CODES``) is its own label, ``"1000"``;
    other application codes are ``"3xxx"`` (3000-3999) and ``"4xxx"``
    (4000-4999); anything else is ``"other"``. At most
    ``len(STANDARD_CLOSE_CODES) + 3`` labels exist.
    """
    if isinstance(code, int) and not isinstance(code, bool):
        if code in STANDARD_CLOSE_CODES:
            return str(int(code))  # int(): the str() of an (int, Enum) member is its name
        if 3000 <= code <= 3999:
            return "3xxx"
        if 4000 <= code <= 4999:
            return "4xxx"
    return "other"


class _Opening(Protocol):
    @property
    def transport(self) -> str: ...


class _Open(Protocol):
    @property
    def info(self) -> _Opening: ...


class Counted(Protocol):
    """A service as its counters are read (``app.SockJS``): its prefix, counters and sessions."""

    @property
    def prefix(self) -> str: ...

    @property
    def stats(self) -> Stats: ...

    @property
    def live(self) -> Collection[_Open]:
        """Its open sessions (their ``info.transport`` is counted)."""
        ...

    @property
    def sessions(self) -> Sized:
        """Its session registry (its size is counted)."""
        ...


class Stats:
    """What one service has done since it started."""

    __slots__ = (
        "messages_in",
        "messages_out",
        "sessions_opened",
        "sessions_closed",
        "problems",
        "websocket_compressed",
    )

    def __init__(self) -> None:
        self.messages_in = 0
        self.messages_out = 0
        self.sessions_opened: Counter[str] = Counter()  # by transport
        #: Sessions closed, by close_code_label (count with ``closed``).
        self.sessions_closed: Counter[str] = Counter()
        #: Problems by kind: handler, slow_consumer, busy, refused, origin,
        #: payload, callback, handshake, aborted, inbox_full (a send refused or
        #: a websocket paused for a handler that is behind), inbox_dropped,
        #: handler_killed (ran past handler_close_timeout, see sockjs_gevent.reaper);
        #: of multiplexed services (sockjs_gevent.multiplex): multiplex_unknown,
        #: multiplex_malformed, multiplex_limit, multiplex_inbox_full.
        self.problems: Counter[str] = Counter()
        #: WebSocket connections that agreed permessage-deflate (option websocket_compression).
        self.websocket_compressed = 0

    def error(self, kind: str) -> None:
        """Count one problem of ``kind`` (in ``problems``)."""
        self.problems[kind] += 1

    def closed(self, code: int) -> None:
        """Count one session closed with ``code``, under ``close_code_label(code)``."""
        self.sessions_closed[close_code_label(code)] += 1

    def snapshot(self, service: Counted) -> dict[str, Any]:
        """A JSON-ready view, with the sessions open now by transport."""
        open_now = Counter(session.info.transport for session in list(service.live))
        return {
            "sessions_open": dict(open_now),
            "sessions_registered": len(service.sessions),
            "sessions_opened": dict(self.sessions_opened),
            "sessions_closed": {str(label): n for label, n in self.sessions_closed.items()},
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "problems": dict(self.problems),
            "websocket_compressed": self.websocket_compressed,
        }


def stats_app(*services: Counted) -> Callable[[Environ, StartResponse], Iterable[bytes]]:
    """A WSGI app answering GET with every service's stats as JSON, by prefix."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        snapshot: dict[str, Any] = {s.prefix or "/": s.stats.snapshot(s) for s in services}
        snapshot["budget"] = BUDGET.snapshot()  # the process's client data against max_buffered_bytes
        if HandOff.active is not None:  # several workers on one port: this worker's hand-offs
            snapshot["handoff"] = HandOff.active.stats.snapshot()
        body = json.dumps(snapshot, sort_keys=True).encode()
        return respond(start_response, 200, list(NO_CACHE), body, JSON)

    return app
