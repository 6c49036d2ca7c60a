"""Sending transports: client-to-server messages over HTTP (xhr_send, jsonp_send)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl

from werkzeug.http import parse_options_header

from .. import inbox
from ..budget import BUDGET
from ..protocol import NOT_UTF8, PAYLOAD_EXPECTED, PayloadError, decode_payload
from ..responses import NO_CACHE, Environ, StartResponse, cors, error, respond
from .base import SessionRoute
from .service import Service

#: Turns a request body into the messages it carries (raises PayloadError).
Decode = Callable[[bytes, Environ], list[str]]


class SendBodyTooLarge(ValueError):
    """An xhr_send or jsonp_send body over the service's max_message_size (answered 413).

    Not ``http.input.RequestBodyTooLarge``, the server's limit on any
    request body: this is the service's limit on what one send carries.
    """


def read_body(environ: Environ, limit: int, declared: int | None = None) -> bytes:
    """The request body, refusing more than ``limit`` bytes (``declared``: its Content-Length, if read)."""
    if (_declared_length(environ) if declared is None else declared) > limit:
        raise SendBodyTooLarge(f"Payload too large: the limit is {limit} bytes.")
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise SendBodyTooLarge(f"Payload too large: the limit is {limit} bytes.")
    return body


def _deliver(
    service: Service, session_id: str, environ: Environ, start_response: StartResponse, decode: Decode
) -> Iterable[bytes] | None:
    """Decode the body and hand it to the session; an error answer or None."""
    session = service.sessions.get(session_id)
    if session is None:
        return error(environ, start_response, 404, "Not found: no such session.")
    declared = _declared_length(environ)
    if not BUDGET.fits(declared):  # (over the budget already, or would be: before reading what would not fit)
        return _over_budget(service, environ, start_response)
    try:
        body = read_body(environ, service.options.max_message_size, declared)
        messages = decode(body, environ)
    except SendBodyTooLarge as too_large:  # (one name per exception type: a compiled build types it once)
        service.stats.error("payload")
        return error(environ, start_response, 413, str(too_large))
    except PayloadError as unreadable:
        service.stats.error("payload")
        return error(environ, start_response, 500, str(unreadable))
    except OSError:  # too slow (the server's minimum body rate), or gone
        service.stats.error("payload")
        return error(environ, start_response, 408, "Request timeout: the body did not arrive in time.")
    amount = inbox.cost(messages)
    if not session.inbox_has_room(amount):
        service.stats.error("inbox_full")
        if amount > session.max_inbox_bytes:
            return error(
                environ,
                start_response,
                413,
                f"Payload too large: {len(messages)} messages take more than the inbox holds.",
            )
        return error(
            environ, start_response, 503, "Inbox full: the handler has not read what was sent before; send again later."
        )
    if not BUDGET.fits(amount):
        return _over_budget(service, environ, start_response)
    session.deliver(messages, amount)
    return None


def _declared_length(environ: Environ) -> int:
    """The body's Content-Length, 0 if none or unreadable (the server's input stream enforces the real length)."""
    try:
        return max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _over_budget(service: Service, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    service.stats.error("over_budget")
    return error(
        environ,
        start_response,
        503,
        "Server busy: it holds as much client data as it may (max_buffered_bytes); send again later.",
    )


def _xhr_payload(body: bytes, environ: Environ) -> list[str]:
    return decode_payload(body)


def _jsonp_payload(body: bytes, environ: Environ) -> list[str]:
    content_type, _ = parse_options_header(environ.get("CONTENT_TYPE", ""))
    if content_type == "application/x-www-form-urlencoded":
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict"))
        except UnicodeDecodeError:
            raise PayloadError(NOT_UTF8) from None
        payload = form.get("d")
        if not payload:
            raise PayloadError(PAYLOAD_EXPECTED)
        return decode_payload(payload)
    return decode_payload(body)


def xhr_send(service: Service, session_id: str, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """POST /xhr_send: a JSON array of messages; 204 on success."""
    failed = _deliver(service, session_id, environ, start_response, _xhr_payload)
    if failed is not None:
        return failed
    headers = [*NO_CACHE, *cors(environ)]
    return respond(start_response, 204, headers)


def jsonp_send(service: Service, session_id: str, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """POST /jsonp_send: ``d=<JSON array>`` form or raw JSON; 200 ``ok``."""
    failed = _deliver(service, session_id, environ, start_response, _jsonp_payload)
    if failed is not None:
        return failed
    headers = list(NO_CACHE)
    return respond(start_response, 200, headers, b"ok")


#: Their routes: xhr_send answers CORS preflights, jsonp_send (a form post) needs none.
ROUTES: tuple[SessionRoute, ...] = (
    SessionRoute("xhr_send", ("POST",), xhr_send, preflight=True),
    SessionRoute("jsonp_send", ("POST",), jsonp_send),
)

#: None: a send only feeds a session another transport opened.
NAMES: tuple[str, ...] = ()
