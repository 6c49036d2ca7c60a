"""A WSGI (PEP 3333) HTTP/1.1 server on gevent, parsing with httptools (llhttp).

    from sockjs_gevent.http import HttpServer, HttpConfig

    HttpServer(("127.0.0.1", 8080), app, HttpConfig(keepalive_timeout=5)).serve_forever()

Modules, one concern each: ``config`` (limits and timeouts), ``sockio``
(socket reads and writes with deadlines), ``connection`` (llhttp callbacks,
the request queue, the loop of one greenlet), ``environ``, ``input``
(``wsgi.input``), ``response`` (``start_response`` and body framing),
``accesslog``, ``server`` (the StreamServer).
"""

from .config import ConfigError, HttpConfig
from .server import HttpServer, tls_context

__all__ = ["HttpServer", "HttpConfig", "ConfigError", "tls_context"]
