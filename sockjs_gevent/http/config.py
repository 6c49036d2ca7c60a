"""Every limit and timeout of the HTTP server, in one validated object."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any


class ConfigError(ValueError):
    """A bad HttpConfig value; the message names the field and what it accepts."""


@dataclass(frozen=True)
class HttpConfig:
    """Limits and timeouts of `sockjs_gevent.http.HttpServer`.

    Timeouts are seconds; ``None`` turns one off. None applies to an
    upgraded WebSocket: once the 101 is out, the connection is the app's.

    Timeouts:
      ``header_timeout``: the whole request head (request line and headers)
        must arrive within this many seconds of its first byte (of the
        connection, for a connection's first request). A client that sends
        one byte every few seconds is cut off when it passes, whatever its
        progress (nginx ``client_header_timeout``, Node ``headersTimeout``).
      ``keepalive_timeout``: an idle connection between requests is closed
        after this long. Armed only while nothing of a next request arrived.
      ``body_timeout`` and ``body_min_rate``: while the app reads the body,
        it must arrive within ``body_timeout`` seconds plus one second per
        ``body_min_rate`` bytes received (so a large upload at a fair rate
        is never cut, and a client trickling bytes is).
      ``write_timeout``: a write of the response that makes no progress for
        this long ends the connection (a client that stopped reading).
      ``linger_timeout``: after an answer that ends the connection while
        the client may still be sending (an error, a body left unread), how
        long to read away what it sends before closing: closing with unread
        input resets the connection, and the reset can destroy the answer.

    Limits:
      ``max_head_size`` (bytes of request line and headers, 431 past it),
      ``max_url_size`` (bytes of the request target, 414), ``max_headers``
      (431), ``max_field_size`` (bytes of one header line, name and value;
      431; None: only ``max_head_size`` bounds it), ``max_body_size`` (413; None for no limit at the server: the
      app may still check its own), ``max_drain_size`` (an unread body up
      to this size is read away so the connection can be reused; a larger
      one closes it), ``read_size`` (bytes asked of the socket per read).
    """

    header_timeout: float | None = 30.0
    keepalive_timeout: float | None = 30.0
    body_timeout: float | None = 30.0
    body_min_rate: float | None = 65536.0
    write_timeout: float | None = 30.0
    linger_timeout: float = 2.0
    max_head_size: int = 16 * 1024
    max_url_size: int = 8 * 1024
    max_headers: int = 100
    max_field_size: int | None = None
    max_body_size: int | None = None
    max_drain_size: int = 64 * 1024
    read_size: int = 64 * 1024

    def __post_init__(self) -> None:
        for name in ("header_timeout", "keepalive_timeout", "body_timeout", "write_timeout", "body_min_rate"):
            _positive(name, getattr(self, name), optional=True)
        _positive("linger_timeout", self.linger_timeout, zero=True)
        for name in ("max_head_size", "max_url_size", "max_headers", "read_size"):
            _count(name, getattr(self, name), minimum=1)
        _count("max_drain_size", self.max_drain_size, minimum=0)
        if self.max_body_size is not None:
            _count("max_body_size", self.max_body_size, minimum=0)
        if self.max_field_size is not None:
            _count("max_field_size", self.max_field_size, minimum=1)
        if self.max_url_size > self.max_head_size:
            raise ConfigError(f"max_url_size ({self.max_url_size}) cannot exceed max_head_size ({self.max_head_size})")

    @classmethod
    def from_request_timeout(cls, request_timeout: float | None, **overrides: Any) -> HttpConfig:
        """The config ``serve(request_timeout=...)`` means.

        ``request_timeout`` bounds how long a client may stall any part of
        a request: its head, its body, the writes of the answer, and the
        idle time of a kept-alive connection. ``overrides`` set single
        fields on top.
        """
        config = cls(
            header_timeout=request_timeout,
            keepalive_timeout=request_timeout,
            body_timeout=request_timeout,
            write_timeout=request_timeout,
        )
        return config.replace(**overrides) if overrides else config

    def replace(self, **changes: Any) -> HttpConfig:
        """A copy with some fields changed (validated again)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(f"unknown HttpConfig field(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(self, **changes)


def _positive(name: str, value: Any, optional: bool = False, zero: bool = False) -> None:
    if value is None and optional:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or math.isnan(value)
        or value < 0
        or (value == 0 and not zero)
    ):
        what = "a number > 0" if not zero else "a number >= 0"
        raise ConfigError(f"{name} must be {what}{' or None' if optional else ''}, got {value!r}")


def _count(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
