"""Reading a request's cookies without failing on bytes that are not UTF-8."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug.sansio.http import parse_cookie


def request_cookies(environ: Mapping[str, Any]) -> dict[str, str]:
    """The request's cookies (first value of each name).

    Werkzeug's ``parse_cookie(environ)`` raises UnicodeDecodeError on a
    Cookie header that is not UTF-8 (``other=\\xff``), which would turn any
    request carrying one into a 500; bad bytes become U+FFFD here instead.
    """
    header = environ.get("HTTP_COOKIE")
    if not header:
        return {}
    text = header.encode("latin-1", "replace").decode("utf-8", "replace")
    return dict(parse_cookie(cookie=text))
