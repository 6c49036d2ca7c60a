"""The transport layer: every way a session's frames reach a client and its messages come back.

One module per family of transports, each declaring the session routes it
answers (``ROUTES``, ``base.SessionRoute``s) and the names its sessions go
by (``NAMES``: what ``conn.transport`` says, the names sockjs-client uses):

- ``websocket``: SockJS frames over RFC 6455, and the raw websocket;
- ``streaming``: xhr-streaming, eventsource, htmlfile;
- ``polling``: xhr-polling, jsonp-polling;
- ``sending``: xhr_send, jsonp_send (messages from the client).

What they share:

- ``base``: what a transport declares (``SessionRoute``, ``ReceivingTransport``);
- ``service``: what they use of the service they serve (the ``Service`` protocol);
- ``receiving``: answering a polling or streaming request (2010, heartbeats, hang-ups);
- ``lentstream``: a streaming answer written from the event loop on a lent socket;
- ``outlets``: what a session writes its frames through (``GreenletOutlet``, ``LoopOutlet``);
- ``heartbeats``: one timer wheel per heartbeat delay, for every link.

The app dispatches on ``routes()`` and names no transport but the raw
websocket (``/websocket`` is not a session URL). So a new transport is one
file plus one line here: a module declaring ``ROUTES`` and ``NAMES``, and
its name in ``FAMILIES`` (and on the import line above it); mypy checks the
module against ``base.Family``. Nothing else changes, the app included.
"""

from __future__ import annotations

from . import polling, sending, streaming, websocket
from .base import Family, SessionRoute

#: Every transport family, in the order of their names in ``NAMES``.
FAMILIES: tuple[Family, ...] = (websocket, streaming, polling, sending)

#: Every name ``conn.transport`` can have (the names sockjs-client uses).
NAMES: tuple[str, ...] = tuple(name for family in FAMILIES for name in family.NAMES)


def routes() -> dict[str, SessionRoute]:
    """Every session route by the last segment of its URL (``/<server_id>/<session_id>/<path>``)."""
    return {route.path: route for family in FAMILIES for route in family.ROUTES}
