"""The pywsgi adapter: gevent's WSGIServer with a handler set up for SockJS (``serve(..., server="pywsgi")``).

``SockJSHandler`` adds the client socket to the environ (for the receiving
transports and WebSocket upgrades) and bounds how long a client may stall
a request; ``make_server`` builds a ``SockJSWSGIServer`` with it. What only
this path uses sits beside it, private: ``_headers`` (the request-header
reader) and ``_bodyrate`` (a minimum body rate, bounded draining).
"""

from .handler import SockJSHandler, SockJSWSGIServer, make_server

__all__ = ["SockJSHandler", "SockJSWSGIServer", "make_server"]
