"""The transports, one module per family; each declares what it answers.

The app builds its dispatch table from these declarations (``routes``), so
adding a transport touches only its own module and this list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from . import sending, websocket
from .base import ReceivingTransport, SessionRoute
from .polling import JSONP, XHR
from .streaming import EVENTSOURCE, HTMLFILE, XHR_STREAMING

#: Server-to-client HTTP transports.
RECEIVING: tuple[ReceivingTransport, ...] = (XHR, JSONP, XHR_STREAMING, EVENTSOURCE, HTMLFILE)

#: Every name ``conn.transport`` can have (the names sockjs-client uses).
NAMES = ("websocket", "xhr-streaming", "eventsource", "htmlfile", "xhr-polling", "jsonp-polling", "raw-websocket")


def routes(receive: Callable[..., Iterable[bytes]]) -> dict[str, SessionRoute]:
    """Every session route by its URL segment; ``receive`` serves the receiving transports."""
    table = [*(t.route(receive) for t in RECEIVING), *sending.ROUTES, websocket.ROUTE]
    return {route.path: route for route in table}
