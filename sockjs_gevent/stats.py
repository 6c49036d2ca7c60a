"""Counters for one service, and a JSON endpoint to read them.

    stats = stats_app(echo, chat)   # a WSGI app: mount it where only operators can reach it

Never includes session ids: only counts by transport and by kind.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any, Iterable

from .handoff import HandOff
from .responses import JSON, NO_CACHE, Environ, StartResponse, respond

if TYPE_CHECKING:  # pragma: no cover
    from .app import SockJS


class Stats:
    """What one service has done since it started."""

    __slots__ = ("messages_in", "messages_out", "sessions_opened", "sessions_closed", "errors", "websocket_compressed")

    def __init__(self) -> None:
        self.messages_in = 0
        self.messages_out = 0
        self.sessions_opened: Counter[str] = Counter()  # by transport
        self.sessions_closed: Counter[int] = Counter()  # by close code
        #: Problems by kind: handler, slow_consumer, busy, refused, origin,
        #: payload, callback, handshake, aborted, inbox_full (a send refused or
        #: a websocket paused for a handler that is behind), inbox_dropped;
        #: of multiplexed services (sockjs_gevent.multiplex): multiplex_unknown,
        #: multiplex_malformed, multiplex_limit, multiplex_inbox_full.
        self.errors: Counter[str] = Counter()
        #: WebSocket connections that agreed permessage-deflate (option websocket_compression).
        self.websocket_compressed = 0

    def error(self, kind: str) -> None:
        self.errors[kind] += 1

    def snapshot(self, service: "SockJS") -> dict[str, Any]:
        """A JSON-ready view, with the sessions open now by transport."""
        open_now = Counter(session.info.transport for session in list(service.live))
        return {
            "sessions_open": dict(open_now),
            "sessions_registered": len(service.sessions),
            "sessions_opened": dict(self.sessions_opened),
            "sessions_closed": {str(code): n for code, n in self.sessions_closed.items()},
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "errors": dict(self.errors),
            "websocket_compressed": self.websocket_compressed,
        }


def stats_app(*services: "SockJS") -> Any:
    """A WSGI app answering GET with every service's stats as JSON, by prefix."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        snapshot: dict[str, Any] = {s.prefix or "/": s.stats.snapshot(s) for s in services}
        if HandOff.active is not None:  # several workers on one port: this worker's hand-offs
            snapshot["handoff"] = HandOff.active.stats.snapshot()
        body = json.dumps(snapshot, sort_keys=True).encode()
        return respond(start_response, 200, list(NO_CACHE), body, JSON)

    return app
