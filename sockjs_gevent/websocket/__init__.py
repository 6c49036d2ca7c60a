"""Server-side WebSockets: an I/O-free engine, and one small class per way of reading.

- ``engine.Engine``: RFC 6455 with no I/O (the websockets library's
  sans-I/O protocol, plus SockJS's text-only rules).
- ``evented.EventLoopWebSocket``: read from the event loop; no greenlet
  (sockjs_gevent's own servers hand the socket over).
- ``blocking.BlockingWebSocket``: read by the request's greenlet (gevent's
  stock pywsgi handler, TLS).
- ``adapter.GeventWebSocketAdapter``: gevent-websocket's handler upgraded it.
- ``handshake.accept``: the upgrade; returns a ``Handshake`` either way.
- ``writers``: sends that never block the sender.
"""

from .adapter import GeventWebSocketAdapter
from .base import PAUSED_FOR_BUDGET, PAUSED_FOR_INBOX, PAUSED_FOR_OUTPUT
from .blocking import BlockingWebSocket
from .engine import Engine
from .evented import EventLoopWebSocket
from .handshake import AnyWebSocket, Handshake, accept

__all__ = [
    "AnyWebSocket",
    "BlockingWebSocket",
    "Engine",
    "EventLoopWebSocket",
    "GeventWebSocketAdapter",
    "Handshake",
    "PAUSED_FOR_BUDGET",
    "PAUSED_FOR_INBOX",
    "PAUSED_FOR_OUTPUT",
    "accept",
]
