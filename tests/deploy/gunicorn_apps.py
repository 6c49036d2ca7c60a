"""WSGI apps the gunicorn tests point gunicorn at (``gunicorn_apps:app``; tests/deploy is on the workers' PYTHONPATH).

``app`` is the test server's Router (``sockjs_gevent.testserver.build``)
with short delays from the environment (``HEARTBEAT_DELAY``,
``DISCONNECT_DELAY``, seconds), and three paths of its own in front:

- ``/_pid``: the pid of the worker that answered;
- ``/_scheme``: the request's ``wsgi.url_scheme``;
- ``/_environ/NAME``: one environ value (``SERVER_NAME``, say);
- ``/_errors``: writes a line to ``wsgi.errors``;
- ``/_busy``: keeps the event loop busy (no yielding) for 30 s: a stuck worker;
- ``/_patched``: whether gevent had patched the standard library when
  this module was imported.
"""

from __future__ import annotations

import os
import time

from gevent import monkey

PATCHED_AT_IMPORT = monkey.is_module_patched("socket") and monkey.is_module_patched("threading")

from sockjs_gevent.testserver import build

services = build(
    heartbeat_delay=float(os.environ.get("HEARTBEAT_DELAY", "25")),
    disconnect_delay=float(os.environ.get("DISCONNECT_DELAY", "5")),
)


def _text(start_response, text: str, status: str = "200 OK"):
    body = text.encode("utf-8")
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/_pid":
        return _text(start_response, str(os.getpid()))
    if path == "/_scheme":
        return _text(start_response, environ["wsgi.url_scheme"])
    if path == "/_errors":
        environ["wsgi.errors"].write("the app wrote this to wsgi.errors\n")
        return _text(start_response, "written")
    if path == "/_busy":
        until = time.monotonic() + 30
        while time.monotonic() < until:
            pass
        return _text(start_response, "done")
    if path == "/_patched":
        return _text(start_response, str(PATCHED_AT_IMPORT))
    if path.startswith("/_environ/"):
        return _text(start_response, repr(environ.get(path[len("/_environ/") :])))
    return services(environ, start_response)
