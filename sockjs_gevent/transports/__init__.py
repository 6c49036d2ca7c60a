"""The transport table: URL name -> transport. One module per family."""

from __future__ import annotations

from .base import ReceivingTransport
from .polling import JSONP, XHR
from .sending import jsonp_send, xhr_send
from .streaming import EVENTSOURCE, HTMLFILE, XHR_STREAMING

#: Server-to-client HTTP transports, by the last URL segment.
RECEIVING: dict[str, ReceivingTransport] = {t.path: t for t in (XHR, JSONP, XHR_STREAMING, EVENTSOURCE, HTMLFILE)}

#: Every name ``conn.transport`` can have (the names sockjs-client uses).
NAMES = ("websocket", "xhr-streaming", "eventsource", "htmlfile", "xhr-polling", "jsonp-polling", "raw-websocket")

#: Client-to-server transports: (WSGI-style sender, answers CORS preflights).
SENDING = {
    "xhr_send": (xhr_send, True),
    "jsonp_send": (jsonp_send, False),
}
