"""HTTP answers and the header sets the protocol asks for (docs/protocol.md section 8)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.http import dump_cookie, http_date

from .cookies import request_cookies
from .options import Options

Headers = list[tuple[str, str]]
StartResponse = Callable[..., Any]
Environ = dict[str, Any]  # (PEP 3333: a real dict, which the server and the app may both write)

YEAR = 365 * 24 * 60 * 60
NO_CACHE: Headers = [("Cache-Control", "no-store, no-cache, no-transform, must-revalidate, max-age=0")]
TEXT = "text/plain; charset=UTF-8"
JAVASCRIPT = "application/javascript; charset=UTF-8"
JSON = "application/json; charset=UTF-8"
HTML = "text/html; charset=UTF-8"

STATUS = {
    200: "200 OK",
    204: "204 No Content",
    304: "304 Not Modified",
    400: "400 Bad Request",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    408: "408 Request Timeout",
    413: "413 Content Too Large",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}


def cache_for_a_year() -> Headers:
    """Headers that let browsers and proxies keep an answer for a year."""
    return [("Cache-Control", f"public, max-age={YEAR}"), ("Expires", http_date(time.time() + YEAR))]


#: What may be echoed into a response header: visible ASCII and spaces.
#: A value with a CR, LF or other control character (which some servers
#: pass through) is not echoed: it would break the header block.
_ECHOABLE = re.compile(r"[\x20-\x7e]+")


def cors(environ: Environ) -> Headers:
    """CORS headers for XHR transports and /info: echo the origin with credentials."""
    origin = environ.get("HTTP_ORIGIN")
    if origin and _ECHOABLE.fullmatch(origin):
        headers = [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true")]
    else:
        headers = [("Access-Control-Allow-Origin", "*")]
    headers.append(("Vary", "Origin"))
    requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")
    if requested and _ECHOABLE.fullmatch(requested):
        headers.append(("Access-Control-Allow-Headers", requested))
    return headers


def session_cookie(environ: Environ, options: Options) -> Headers:
    """The JSESSIONID cookie for cookie-sticky load balancers, when enabled."""
    setting = options.jsessionid
    if setting is False:
        return []
    if setting is True:
        value = request_cookies(environ).get("JSESSIONID") or "dummy"
        # Werkzeug quotes the value safely; the attribute is written as the protocol spells it.
        return [("Set-Cookie", dump_cookie("JSESSIONID", value, path=None) + "; path=/")]
    header = setting(environ)
    return [("Set-Cookie", header)] if header else []


def respond(
    start_response: StartResponse,
    code: int,
    headers: Headers,
    body: bytes = b"",
    content_type: str | None = TEXT,
) -> Iterable[bytes]:
    """A complete answer with a known length."""
    if content_type is not None:
        headers = [("Content-Type", content_type), *headers]
    if code not in (204, 304):
        headers.append(("Content-Length", str(len(body))))
    start_response(STATUS[code], headers)
    return [body] if body else []


def error(environ: Environ, start_response: StartResponse, code: int, message: str) -> Iterable[bytes]:
    """A plain-text error answer the client can read, cross-origin too.

    Every error under a service carries the CORS headers, so a page on
    another origin sees the status (a 404 for a wrong URL) instead of an
    opaque network error that hides the real mistake.
    """
    return respond(start_response, code, [*NO_CACHE, *cors(environ)], message.encode("utf-8"))


def not_found(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    return error(environ, start_response, 404, "Not found.")


def method_not_allowed(environ: Environ, start_response: StartResponse, allowed: Iterable[str]) -> Iterable[bytes]:
    """405 with Allow, no Content-Type and an empty body, as the protocol asks (and CORS)."""
    return respond(start_response, 405, [("Allow", ", ".join(allowed)), *cors(environ)], content_type=None)


def preflight(
    environ: Environ, start_response: StartResponse, methods: str, extra: Iterable[tuple[str, str]] = ()
) -> Iterable[bytes]:
    """Answer a CORS preflight (OPTIONS): cacheable for a year."""
    headers = [
        *cache_for_a_year(),
        ("Access-Control-Max-Age", str(YEAR)),
        ("Access-Control-Allow-Methods", methods),
        *cors(environ),
        *extra,
    ]
    return respond(start_response, 204, headers, content_type=None)
