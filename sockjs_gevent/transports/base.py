"""What a receiving HTTP transport is: framing, headers, callback rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Optional
from urllib.parse import parse_qsl

from ..responses import Environ, Headers

_CALLBACK = re.compile(r"[a-zA-Z0-9\-_.]+")  # used with fullmatch: "$" would let "cb\n" through


def line_frame(frame: str, callback: Optional[str]) -> bytes:
    """A frame as one line: the framing of both XHR transports."""
    return (frame + "\n").encode("utf-8")


class CallbackError(ValueError):
    """A missing or unsafe JSONP/htmlfile callback name (answered with 500)."""


def no_callback(environ: Environ) -> None:
    return None


def callback_param(max_length: Optional[int]) -> Callable[[Environ], str]:
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
    frame: Callable[[str, Optional[str]], bytes]
    streaming: bool
    cors: bool = False
    #: Answers a CORS preflight (OPTIONS): the XHR POSTs need one, EventSource never sends one.
    preflight: bool = False
    prelude: Callable[[Optional[str]], bytes] = lambda callback: b""
    callback: Callable[[Environ], Optional[str]] = no_callback
    headers: Headers = field(default_factory=list)
    methods: tuple[str, ...] = ("POST",)
