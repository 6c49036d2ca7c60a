"""gunicorn settings for a SockJS app on sockjs_gevent's worker class.

    gunicorn -c examples/gunicorn.conf.py 'examples.chat.server:build_app()'
    gunicorn -c examples/gunicorn.conf.py examples.flask_chat.app:app

Settings given on the command line win over these (``--bind``, ``-w``...).
What each setting does with this worker, and which ones it refuses
(``--threads``, ``--preload``, TLS with several workers), is in
``sockjs_gevent/gunicorn.py``'s docstring.

Several workers share the port, and a request for a session another
worker holds is handed to that worker inside the machine: no sticky
balancing is needed in front. A room or broadcast channel that must reach
sessions on every worker goes through Redis: set
``SOCKJS_GEVENT_REDIS_URL`` (docs/channels.md). Put nginx in front for
TLS and for the public port (examples/nginx.conf).
"""

import os

worker_class = "sockjs_gevent.gunicorn.Worker"

bind = os.environ.get("BIND", "127.0.0.1:8000")
# Processes: one per core. Each runs thousands of sessions in greenlets.
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
# Concurrent connections per worker: every open session holds one (a
# websocket, or a waiting poll or stream), so this bounds sessions too.
# Keep it under the worker's descriptor limit (ulimit -n).
worker_connections = 10000

# The arbiter restarts a worker that has not said it lives for this long;
# the worker says so every few seconds whether or not it is busy.
timeout = 30
# On SIGTERM, a reload (HUP) or an upgrade (USR2 then TERM to the old
# arbiter): every session is closed with 1001 "Server shutting down"
# (clients reconnect), and open requests get this long to finish.
graceful_timeout = 10
# Idle keep-alive connections between requests (nginx's upstream
# keepalive reuses them) are closed after this many seconds.
keepalive = 30

# Restarting a worker closes its sessions: leave max_requests at 0 unless
# something leaks.
max_requests = 0

# nginx on this machine: its X-Forwarded-Proto makes wsgi.url_scheme https.
forwarded_allow_ips = "127.0.0.1,::1"

# One line per answered request, gunicorn's format; the library's own log
# lines ("sockjs_gevent.*") go to the error log at loglevel.
accesslog = os.environ.get("ACCESS_LOG")  # e.g. "-" for stdout
errorlog = "-"
loglevel = "info"
