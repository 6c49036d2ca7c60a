"""Which web pages may talk to a service: the ``allowed_origins`` policy.

Browsers send cookies with cross-site requests, so without a policy another
site's page can open a session as a logged-in user. The request's origin is
its ``Origin`` header, else the origin of its ``Referer`` (a JSONP
``<script>`` or the iframe page sends no Origin). A browser request that
hides both but says ``Sec-Fetch-Site: cross-site`` is refused; a request
with no browser headers at all (a native client) is allowed, since it
carries no victim's cookies.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Callable, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

OriginCheck = Callable[[Optional[str]], bool]
AllowedOrigins = Union[str, Sequence[str], OriginCheck]


def request_origin(environ: Mapping[str, Any]) -> Optional[str]:
    """``scheme://host[:port]`` the request came from, or None if it does not say."""
    origin = environ.get("HTTP_ORIGIN")
    if origin:
        return origin
    referer = environ.get("HTTP_REFERER")
    if referer:
        parts = urlsplit(referer)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return None


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
            return environ.get("HTTP_SEC_FETCH_SITE") != "cross-site"
        return bool(self._check(origin))


def _patterns(patterns: list[str]) -> OriginCheck:
    """Match origins against patterns such as ``https://*.example.com`` or ``http://localhost:*``."""
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"origin patterns are non-empty strings, got {pattern!r}")
    if "*" in patterns:
        return lambda origin: True
    regex = re.compile("|".join(fnmatch.translate(p.lower().rstrip("/")) for p in patterns))
    return lambda origin: origin is not None and regex.match(origin.lower()) is not None


def validate(allowed: Any) -> None:
    """Raise ValueError if ``allowed`` cannot be an ``allowed_origins`` value."""
    if callable(allowed) or isinstance(allowed, str):
        if isinstance(allowed, str) and not allowed:
            raise ValueError("allowed_origins must not be empty")
        return
    if isinstance(allowed, (list, tuple, set, frozenset)) and allowed:
        _patterns(list(allowed))
        return
    raise ValueError(f"allowed_origins must be '*', a non-empty list of origin patterns, or a callable(origin) -> bool, got {allowed!r}")
