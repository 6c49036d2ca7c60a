"""The transport table: URL name -> transport. One module per family."""

from __future__ import annotations

from .base import ReceivingTransport
from .polling import JSONP, XHR
from .sending import jsonp_send, xhr_send
from .streaming import EVENTSOURCE, HTMLFILE, XHR_STREAMING

#: Server-to-client HTTP transports, by the last URL segment.
RECEIVING: dict[str, ReceivingTransport] = {t.name: t for t in (XHR, JSONP, XHR_STREAMING, EVENTSOURCE, HTMLFILE)}

#: Client-to-server transports: (WSGI-style sender, answers CORS preflights).
SENDING = {
    "xhr_send": (xhr_send, True),
    "jsonp_send": (jsonp_send, False),
}
