"""The per-service options: one typed object, validated when it is built."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .compression import Compression
from .origins import AllowedOrigins
from .origins import validate as validate_origins

#: sockjs-client 1.x from a public CDN; the iframe page loads it from here.
DEFAULT_SOCKJS_URL = "https://cdn.jsdelivr.net/npm/sockjs-client@1/dist/sockjs.min.js"

#: A callable that sets the session cookie itself: it gets the WSGI environ of
#: a session request and returns a full ``Set-Cookie`` value (or None).
CookieSetter = Callable[[Mapping[str, Any]], str | None]

_PREFIX = re.compile(r"^(/[^/?#]+)*$")


class OptionsError(ValueError):
    """An option value that cannot work; raised when the service is built."""


@dataclass(frozen=True)
class Options:
    """How one SockJS service behaves.

    prefix: the base URL, e.g. ``/echo`` (no trailing slash; ``""`` for root).
    response_limit: bytes a streaming response may carry before it is ended
        and the client opens a new one (frames included).
    heartbeat_delay: seconds of silence before the server sends ``h``.
    disconnect_delay: seconds a session lives with no receiving request
        attached before it expires (and how long a closed session keeps
        answering with its close frame).
    jsessionid: True to send ``Set-Cookie: JSESSIONID=...`` on session
        requests (for cookie-sticky load balancers), or a CookieSetter.
    sockjs_url: where the iframe page loads sockjs-client from.
    websocket: False to turn the websocket transports off.
    max_message_size: the largest client payload accepted, in bytes: a
        WebSocket message (bigger closes with 1009) or an HTTP send body
        (bigger is answered 413).
    max_queued_bytes: how much a session may have queued for a client that
        is not reading (a slow consumer); past it the session is closed with
        1008 instead of growing without bound.
    max_inbox_bytes: how much client data may wait for a handler that reads
        slower than the client sends (characters, plus 64 per message).
        Past it a websocket stops reading until the handler catches up (TCP
        pushes back on the client) and an HTTP send is answered 503. At
        least ``max_message_size``.
    max_sessions: how many sessions the service holds at once (0: no
        limit); new ones are refused with 1013 "Server busy". A session
        counts until its handler has returned, even after it closed.
    handler_close_timeout: seconds a handler may go on running after its
        session closed; past it the handler is stopped with
        ``GreenletExit``, logged and counted (``handler_killed``). 0: never
        stop it (it still counts in ``max_sessions``). See
        ``sockjs_gevent.reaper``.
    allowed_origins: which pages may use the service: ``"*"`` (any, the
        protocol's default), a list of patterns like ``"https://*.example.com"``,
        or a callable ``origin -> bool``. The service's own origin (its scheme
        and Host: its own pages, its iframe page) is always allowed, so ``[]``
        means those only. Refused requests get 403 (before any WebSocket
        upgrade) and never reach the handler.
    websocket_compression: permessage-deflate (RFC 7692) on the websocket
        transports, for clients that offer it: None or False (the default)
        off; True with ``Compression()``'s defaults; or a ``Compression`` (or
        a dict of its fields) to set window sizes and context takeover.
        Each compressed connection may keep zlib state (tens of KiB) on top
        of its session: see ``sockjs_gevent.compression``. Stored as None
        or a ``Compression``.
    """

    prefix: str = ""
    response_limit: int = 128 * 1024
    heartbeat_delay: float = 25.0
    disconnect_delay: float = 5.0
    jsessionid: bool | CookieSetter = False
    sockjs_url: str = DEFAULT_SOCKJS_URL
    websocket: bool = True
    max_message_size: int = 1024 * 1024
    max_queued_bytes: int = 4 * 1024 * 1024
    max_inbox_bytes: int = 4 * 1024 * 1024
    max_sessions: int = 0
    handler_close_timeout: float = 60.0
    allowed_origins: AllowedOrigins = "*"
    websocket_compression: None | bool | Compression | Mapping[str, Any] = None

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not _PREFIX.match(self.prefix):
            raise OptionsError(f"prefix must look like '/name' or '/a/b' with no trailing slash, got {self.prefix!r}")
        if not _is_number(self.response_limit, int) or self.response_limit < 1:
            raise OptionsError(f"response_limit must be a positive int of bytes, got {self.response_limit!r}")
        for name in ("heartbeat_delay", "disconnect_delay"):
            value = getattr(self, name)
            if not _is_number(value, (int, float)) or not value > 0:
                raise OptionsError(f"{name} must be a positive number of seconds, got {value!r}")
        if not (isinstance(self.jsessionid, bool) or callable(self.jsessionid)):
            raise OptionsError(
                f"jsessionid must be True, False or a callable(environ) -> Set-Cookie value, got {self.jsessionid!r}"
            )
        if not isinstance(self.sockjs_url, str) or not (
            self.sockjs_url.startswith(("http://", "https://")) or self.sockjs_url.startswith("/")
        ):
            raise OptionsError(
                f"sockjs_url must be an absolute http(s) URL or a path starting with '/', got {self.sockjs_url!r}"
            )
        if any(c in self.sockjs_url for c in '"<>\r\n'):
            raise OptionsError(f"sockjs_url must not contain quotes, angle brackets or newlines: {self.sockjs_url!r}")
        if not _is_number(self.max_message_size, int) or self.max_message_size < 1:
            raise OptionsError(f"max_message_size must be a positive int of bytes, got {self.max_message_size!r}")
        if not _is_number(self.max_queued_bytes, int) or self.max_queued_bytes < 1:
            raise OptionsError(f"max_queued_bytes must be a positive int of bytes, got {self.max_queued_bytes!r}")
        if not _is_number(self.max_inbox_bytes, int) or self.max_inbox_bytes < self.max_message_size:
            raise OptionsError(
                f"max_inbox_bytes must be an int of bytes at least max_message_size ({self.max_message_size}), "
                f"got {self.max_inbox_bytes!r}: raise it with max_message_size"
            )
        if not _is_number(self.max_sessions, int) or self.max_sessions < 0:
            raise OptionsError(f"max_sessions must be an int >= 0 (0 means no limit), got {self.max_sessions!r}")
        if not _is_number(self.handler_close_timeout, (int, float)) or not self.handler_close_timeout >= 0:
            raise OptionsError(
                f"handler_close_timeout must be a number of seconds >= 0 (0: never stop a handler), "
                f"got {self.handler_close_timeout!r}"
            )
        try:
            validate_origins(self.allowed_origins)
        except ValueError as exc:
            raise OptionsError(str(exc)) from None
        if not isinstance(self.websocket, bool):
            raise OptionsError(f"websocket must be True or False, got {self.websocket!r}")
        # Normalised, so the transports see None or settings.
        object.__setattr__(self, "websocket_compression", Compression.from_value(self.websocket_compression))

    @classmethod
    def build(cls, **options: Any) -> Options:
        """Build from keyword arguments, naming any unknown option."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise OptionsError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**options)


def _is_number(value: Any, kinds: Any) -> bool:
    return isinstance(value, kinds) and not isinstance(value, bool)
