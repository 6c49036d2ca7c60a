"""What a transport declares: the route it answers, and for receiving HTTP
transports their framing, headers and callback rules; what a transport
module declares (``Family``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl

from ..responses import Environ, Headers, StartResponse
from .service import Service

#: Answers one request of a session: ``serve(service, session_id, environ, start_response)``.
Serve = Callable[[Service, str, Environ, StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class SessionRoute:
    """What a transport answers at ``/<server_id>/<session_id>/<path>``.

    The app only dispatches on these: the methods it takes, whether it
    answers a CORS preflight, whether the JSESSIONID cookie applies (HTTP
    transports), whether the ``websocket`` option turns it off, and the
    function that serves it.
    """

    path: str
    methods: tuple[str, ...]
    serve: Serve
    preflight: bool = False
    http: bool = True
    websocket: bool = False


class Family(Protocol):
    """A transport module, as ``transports`` reads it (a module is one: these are its globals)."""

    #: The session routes it answers.
    ROUTES: tuple[SessionRoute, ...]
    #: The names its sessions go by (``conn.transport``); none for routes that only feed a session.
    NAMES: tuple[str, ...]


_CALLBACK = re.compile(r"[a-zA-Z0-9\-_.]+")  # used with fullmatch: "$" would let "cb\n" through


def line_frame(frame: str, callback: str | None) -> bytes:
    """A frame as one line: the framing of both XHR transports."""
    return (frame + "\n").encode("utf-8")


class CallbackError(ValueError):
    """A missing or unsafe JSONP/htmlfile callback name (answered with 500)."""


def no_callback(environ: Environ) -> None:
    return None


def callback_param(max_length: int | None) -> Callable[[Environ], str]:
    """Read and validate ``c`` (or ``callback``) from the query string."""

    def read(environ: Environ) -> str:
        params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        name = params.get("c", params.get("callback"))
        if not name:
            raise CallbackError('"callback" parameter required')
        if not _CALLBACK.fullmatch(name) or (max_length is not None and len(name) > max_length):
            raise CallbackError('invalid "callback" parameter')
        return name

    return read


@dataclass(frozen=True)
class ReceivingTransport:
    """An HTTP transport that carries frames from server to client.

    ``name`` is what the application sees (``conn.transport``, stats: the
    names sockjs-client uses, e.g. ``xhr-streaming``); ``path`` is the last
    segment of its URL (``xhr_streaming``). ``frame(frame, callback)`` turns
    one SockJS frame into the bytes this transport writes;
    ``prelude(callback)`` is written first by streaming transports; a
    polling transport ends after one frame.
    """

    name: str
    path: str
    content_type: str
    frame: Callable[[str, str | None], bytes]
    streaming: bool
    cors: bool = False
    #: Answers a CORS preflight (OPTIONS): the XHR POSTs need one, EventSource never sends one.
    preflight: bool = False
    prelude: Callable[[str | None], bytes] = lambda callback: b""
    callback: Callable[[Environ], str | None] = no_callback
    headers: Headers = field(default_factory=list)
    methods: tuple[str, ...] = ("POST",)

    def route(self, receive: Receive) -> SessionRoute:
        """Its route, served by ``receive(transport, service, session_id, environ, start_response)``."""
        return SessionRoute(self.path, self.methods, functools.partial(receive, self), preflight=self.preflight)


#: Serves a receiving transport's route (``receiving.receive``): ``Serve`` with the transport first.
Receive = Callable[[ReceivingTransport, Service, str, Environ, StartResponse], Iterable[bytes]]
