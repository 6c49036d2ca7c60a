"""Which web pages may talk to a service: the ``allowed_origins`` policy.

Browsers send cookies with cross-site requests, so without a policy another
site's page can open a session as a logged-in user. The request's origin is
its ``Origin`` header (``Sec-WebSocket-Origin`` for a version-8 WebSocket
handshake), else the origin of its ``Referer`` (a JSONP ``<script>`` or the
iframe page sends no Origin).

- A request from the service's own origin (the scheme and ``Host`` it was
  made to) is always allowed: only the service's own pages run there,
  among them the iframe page of the iframe transports.
- A request that names no origin is allowed only if it is not a browser
  request from another page: ``Sec-Fetch-Site`` missing (a native client,
  which carries no victim's cookies), ``same-origin`` or ``none`` (typed
  by the user). A page that hides its referrer (``no-referrer``) gets
  ``same-site`` or ``cross-site`` and is refused.
- The iframe page is what lets a page on an allowed origin run sockjs-client
  on the service's origin; it is served with ``Content-Security-Policy:
  frame-ancestors`` naming only the page that asked for it, so no other
  page can embed it as a relay.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

OriginCheck = Callable[[str | None], bool]
AllowedOrigins = str | Sequence[str] | OriginCheck

#: Sec-Fetch-Site values of a request no other page made.
_OWN_FETCH_SITES = ("same-origin", "none")
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
#: What an origin pattern looks like: scheme://host with an optional port.
_PATTERN_SHAPE = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#\s]+$", re.IGNORECASE)


def _origin_of_url(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "http://[::1/x": an unclosed IPv6 literal
        return None
    if parts.scheme and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def request_origin(environ: Mapping[str, Any]) -> str | None:
    """``scheme://host[:port]`` the request came from, or None if it does not say."""
    origin = environ.get("HTTP_ORIGIN") or environ.get("HTTP_SEC_WEBSOCKET_ORIGIN")
    if origin:
        return origin
    referer = environ.get("HTTP_REFERER")
    if referer:
        return _origin_of_url(referer)
    return None


def _normal(origin: str) -> str:
    """An origin with its default port made explicit and case folded, for comparison."""
    scheme, sep, rest = origin.lower().partition("://")
    if not sep:
        return origin.lower()
    host = rest.rstrip("/")
    if not re.search(r":\d+$", host) and scheme in _DEFAULT_PORTS:
        host += ":" + _DEFAULT_PORTS[scheme]
    return f"{scheme}://{host}"


def own_origin(environ: Mapping[str, Any]) -> str | None:
    """The origin this request was made to: its scheme and ``Host``."""
    host = environ.get("HTTP_HOST")
    if not host:
        return None
    scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
    return f"{scheme.split(',')[0].strip()}://{host}"


def is_same_origin(origin: str, environ: Mapping[str, Any]) -> bool:
    own = own_origin(environ)
    return own is not None and _normal(origin) == _normal(own)


class OriginPolicy:
    """Compiled form of the ``allowed_origins`` option."""

    __slots__ = ("_check", "allow_all")

    def __init__(self, allowed: AllowedOrigins) -> None:
        self.allow_all = allowed == "*"
        if callable(allowed):
            self._check: OriginCheck = allowed
        elif isinstance(allowed, str):
            self._check = _patterns([allowed])
        else:
            self._check = _patterns(list(allowed))

    def allows(self, environ: Mapping[str, Any]) -> bool:
        if self.allow_all:
            return True
        origin = request_origin(environ)
        if origin is None:
            fetch_site = environ.get("HTTP_SEC_FETCH_SITE")
            return fetch_site is None or fetch_site in _OWN_FETCH_SITES
        if is_same_origin(origin, environ):
            return True
        return bool(self._check(origin))

    def frame_ancestors(self, environ: Mapping[str, Any]) -> str | None:
        """The CSP that lets only the asking page embed the iframe page (None: any page may).

        Called for an iframe page request that ``allows``; its origin is the
        parent page's (from the Referer), or the service's own.
        """
        if self.allow_all:
            return None
        origin = request_origin(environ)
        if origin is None or is_same_origin(origin, environ) or not _safe_csp_source(origin):
            return "frame-ancestors 'self'"
        return f"frame-ancestors 'self' {origin}"


def _safe_csp_source(origin: str) -> bool:
    return _PATTERN_SHAPE.match(origin) is not None and not any(c in origin for c in ";,'\"*@")


def _patterns(patterns: list[Any]) -> OriginCheck:
    """Match origins against patterns such as ``https://*.example.com`` or ``http://localhost:*``."""
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"origin patterns are non-empty strings, got {pattern!r}")
        if pattern != "*" and not _PATTERN_SHAPE.match(pattern):
            raise ValueError(
                f"origin pattern {pattern!r} is not an origin: write the scheme and host, "
                f"e.g. 'https://{pattern.split('://')[-1].lstrip('/').split('/')[0] or 'example.com'}' or 'http://localhost:*'"
            )
    if "*" in patterns:
        return lambda origin: True
    if not patterns:
        return lambda origin: False  # only the service's own origin (checked before)
    regex = re.compile("|".join(fnmatch.translate(p.lower().rstrip("/")) for p in patterns))
    return lambda origin: origin is not None and regex.match(origin.lower()) is not None


def validate(allowed: Any) -> None:
    """Raise ValueError if ``allowed`` cannot be an ``allowed_origins`` value."""
    if callable(allowed):
        return
    if isinstance(allowed, str):
        if not allowed:
            raise ValueError("allowed_origins must not be empty")
        _patterns([allowed])
        return
    if isinstance(allowed, (list, tuple, set, frozenset)):
        _patterns(list(allowed))  # [] allows only the service's own origin
        return
    raise ValueError(
        f"allowed_origins must be '*', a list of origin patterns ([] for the service's own origin only), "
        f"or a callable(origin) -> bool, got {allowed!r}"
    )


def open_to_every_page(service: str, setting: str) -> str:
    """The warning for a service that authenticates in ``before_open`` under the default origins ("*").

    ``setting`` is how the caller sets the origins (a keyword, a Flask config key).
    """
    return (
        f"service {service!r} authenticates in before_open but lets every web page in: another site's page can "
        f"open sessions with your users' cookies. Set {setting} to the pages that may use it ([] for this "
        f"server's own pages; '*' to keep allowing all and silence this)."
    )
