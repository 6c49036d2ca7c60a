"""Polling transports: one frame per response (xhr, jsonp)."""

from __future__ import annotations

from .. import protocol
from ..responses import JAVASCRIPT
from .base import ReceivingTransport, SessionRoute, callback_param, line_frame
from .receiving import receive


def _jsonp_frame(frame: str, callback: str | None) -> bytes:
    return f"/**/{callback}({protocol.quote(frame)});\r\n".encode()


XHR = ReceivingTransport(
    name="xhr-polling",
    path="xhr",
    content_type=JAVASCRIPT,
    frame=line_frame,
    streaming=False,
    cors=True,
    preflight=True,
)

JSONP = ReceivingTransport(
    name="jsonp-polling",
    path="jsonp",
    content_type=JAVASCRIPT,
    frame=_jsonp_frame,
    streaming=False,
    callback=callback_param(max_length=32),
    headers=[("X-Content-Type-Options", "nosniff")],
    methods=("GET",),
)

ROUTES: tuple[SessionRoute, ...] = (XHR.route(receive), JSONP.route(receive))
NAMES: tuple[str, ...] = (XHR.name, JSONP.name)
