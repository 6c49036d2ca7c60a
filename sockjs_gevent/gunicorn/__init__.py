"""A gunicorn worker that serves a WSGI app with sockjs_gevent's own HTTP server.

    gunicorn -k sockjs_gevent.gunicorn.Worker -w 4 --bind 0.0.0.0:8080 myapp:app

or ``worker_class = "sockjs_gevent.gunicorn.Worker"`` in gunicorn.conf.py
(see examples/gunicorn.conf.py). The app is anything ``serve()`` takes: a
``SockJS`` service, a ``Router`` of several, a Flask app with flask_sockjs.

Each worker monkey-patches the standard library (``gevent.monkey.patch_all``)
before it imports the app, then serves every gunicorn listener with an
``HttpServer`` (llhttp parsing, one greenlet per connection) instead of
gevent's pywsgi. With ``workers > 1`` the workers share each port and a
worker that reads a request for a session another worker holds passes the
connection over (``sockjs_gevent.handoff``): every HTTP transport works
behind any balancer, or none.

How gunicorn's settings map:

============================ ==================================================
``bind``, ``backlog``,       the arbiter's listeners, each served by one
``reuse_port``, ``umask``    HttpServer (TCP, IPv6, ``unix:PATH``, ``fd://N``)
``workers``                  processes; above 1, the hand-off between them
``worker_connections``       per worker, the connections served by a greenlet
                             at once (requests in progress, waiting polls, idle
                             keep-alive connections; greenlets are reused,
                             ``sockjs_gevent.http.reuse``); a websocket
                             or a stream runs from the event loop once its
                             opening answer is out, and leaves the pool: bound
                             sessions with the services' ``max_sessions``
``timeout``                  a greenlet calls ``notify()`` every ``timeout / 4``
                             s (1 s at most), so an idle worker is never killed; one whose
                             event loop is stuck is. The worker also stops
                             when its parent pid changed (the arbiter died).
``graceful_timeout``         SIGTERM: stop accepting, close every session with
                             1001 "Server shutting down", drain within it
``keepalive``                ``HttpConfig.keepalive_timeout``; 0 answers every
                             request with ``Connection: close``
``max_requests``,            requests served are counted; past the limit the
``max_requests_jitter``      worker stops gracefully and gunicorn starts another
``limit_request_line``       ``HttpConfig.max_url_size`` (414; 0: the default
                             8 KiB; at most 8190, as gunicorn)
``limit_request_fields``     ``HttpConfig.max_headers`` (431; 0: 32768)
``limit_request_field_size`` ``HttpConfig.max_field_size`` (431; 0: no limit
                             but the 16 KiB of a whole head)
``certfile``, ``keyfile``,   TLS: ``gunicorn.sock.ssl_context(cfg)`` (so the
``ca_certs``, ``ciphers``,   ``ssl_context`` hook too) to the HttpServer;
``cert_reqs``                ``-w 1`` only (see below)
``forwarded_allow_ips``,     ``wsgi.url_scheme`` follows gunicorn's rules: a
``secure_scheme_headers``    peer in the list (or on a Unix socket) that sends a
                             listed header makes it https (value equal) or http;
                             two listed headers that disagree are a 400
``accesslog``,               one line per answered request through gunicorn's
``access_log_format``,       logger (``log.access``), only when it logs access
``statsd_host``              or counts requests (statsd, a logger_class)
``errorlog``, ``loglevel``   the library's loggers (``sockjs_gevent.*``) write
                             to gunicorn's error log handlers at its level,
                             unless a logconfig configures them; so does
                             ``wsgi.errors``
``pre_request``,             called with a small request object (``method``,
``post_request``             ``path``, ``uri``, ``query``, ``version``,
                             ``headers``); post_request after the answer is out
                             (not for websockets, which never end as a request)
``reload``                   the reloader (a thread) only clears ``alive``: the
                             worker notices within a second and stops gracefully
hooks, ``user``, ``group``,  as for every gunicorn worker (the arbiter and the
``chdir``, ``raw_env``,      base ``Worker`` do them); HUP reload and USR2
``pidfile``, ``proc_name``   upgrade: old workers close their sessions with 1001
============================ ==================================================

With several workers a reload or an upgrade hands over slot by slot: the
new workers wait (notifying the arbiter) until old ones stop and free
their hand-off slots, while the old ones keep serving. After USR2 the new
arbiter's workers therefore serve once the old arbiter is told to stop
(TERM or WINCH to it), not side by side with the old workers.

Refused at start with a one-line error (gunicorn prints ``Error: ...`` and
exits 1): ``threads`` > 1 (greenlets, not threads: use
``worker_connections``); ``preload_app`` (see below); TLS (``certfile``)
with ``workers`` > 1 (a TLS connection cannot move to another process:
terminate TLS at nginx, or run ``-w 1``); ``proxy_protocol``; a
``protocol`` other than http; ``http_protocols`` other than h1. Warned
about in one line and ignored: ``tmp_upload_dir``,
``header_map`` other than drop (names with ``_`` are always dropped), the
parser leniencies (``permit_obsolete_folding``, ``strip_header_spaces``,
``permit_unconventional_http_method``/``_version``,
``casefold_http_method``), ``http_parser``, and ``SCRIPT_NAME`` in the
environment. ``sendfile`` does not apply (the server writes what the
app returns).

``--preload`` is refused rather than made to work: gunicorn imports a
preloaded app in the arbiter (``Arbiter.setup``) before any worker exists,
so before this worker's ``monkey.patch_all()``; a library the app imported
there keeps references to the blocking socket, ssl and threading objects,
and one blocking call in a handler then freezes every session of a
worker. Patching the arbiter itself instead would put gunicorn's own
process manager on gevent, which it is not written for. gunicorn calls
``check_config`` after the preload, so the app has been imported once when
the error is printed; nothing has been served.
"""

from .worker import Worker

__all__ = ["Worker"]
