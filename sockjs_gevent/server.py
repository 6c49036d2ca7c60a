"""Run a WSGI app (SockJS services, a Router, a Flask app) on gevent.

``serve()`` runs it on sockjs_gevent.http's HttpServer (llhttp parsing) by
default, or on gevent's pywsgi WSGIServer with ``SockJSHandler``
(``server="pywsgi"``, see ``sockjs_gevent.pywsgi``), and shuts it down
gracefully on a signal. ``SockJSHandler`` and ``make_server`` are imported
here too: they were defined here, and the docs name them from here.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import gevent
from gevent.pywsgi import WSGIServer

from . import budget, gcfreeze
from .app import close_all_sessions
from .callables import check_wsgi_app
from .http import HttpConfig, HttpServer
from .http.accesslog import AccessLogTarget
from .patching import check_patched
from .pywsgi import SockJSHandler, SockJSWSGIServer, make_server

__all__ = [
    "LOG_FORMAT",
    "LOG_LEVELS",
    "SERVERS",
    "WSGIApp",
    "SockJSHandler",
    "SockJSWSGIServer",
    "build_server",
    "check_log_level",
    "configure_logging",
    "make_http_server",
    "make_server",
    "print_ready",
    "serve",
    "shutdown",
]

log = logging.getLogger("sockjs_gevent.server")

WSGIApp = Callable[..., Iterable[bytes]]


def make_http_server(
    app: WSGIApp,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    request_timeout: float | None = 30.0,
    max_body_size: int | None = None,
    http_config: HttpConfig | None = None,
    ssl_context: Any = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    access_log: AccessLogTarget = None,
    backlog: int | None = None,
    listener: Any = None,
    handoff: Any = None,
) -> HttpServer:
    """The httptools server for ``app`` (not yet started); see ``serve()`` for the keywords."""
    if http_config is None:
        http_config = HttpConfig.from_request_timeout(request_timeout)
    if max_body_size is not None:
        http_config = http_config.replace(max_body_size=max_body_size)
    return HttpServer(
        listener if listener is not None else (host, port),
        app,
        http_config,
        ssl_context=ssl_context,
        certfile=certfile,
        keyfile=keyfile,
        access_log=access_log,
        backlog=backlog,
        handoff=handoff,
    )


SERVERS = ("httptools", "pywsgi")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: How log lines look when sockjs_gevent sets logging up (``serve()``, the command lines).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Whether ``serve()`` has decided about logging yet in this process (it does once).
_logging_decided = False


def check_log_level(level: str | int) -> int:
    """The logging level ``level`` names (a name of LOG_LEVELS in any case, or its number); TypeError or ValueError."""
    if isinstance(level, bool) or not isinstance(level, (str, int)):
        raise TypeError(f"log_level must be a level name or number, got {level!r}")
    names = {name: getattr(logging, name) for name in LOG_LEVELS}
    number = names.get(level.upper()) if isinstance(level, str) else level if level in names.values() else None
    if number is None:
        raise ValueError(
            f"log_level must be one of {', '.join(LOG_LEVELS)} (any case) or their logging.* numbers, got {level!r}"
        )
    return number


def configure_logging(level: str | int = "INFO") -> bool:
    """Log to stderr at ``level``, lines as LOG_FORMAT (time, level, logger: message), unless the application has.

    The application has configured logging when the root logger or the
    ``sockjs_gevent`` logger has a handler (``logging.basicConfig``,
    ``dictConfig``, a command line's ``--log-level``, gunicorn's worker):
    then nothing changes. Decided once per process, at the first call:
    True if it set logging up then.
    """
    global _logging_decided
    number = check_log_level(level)
    if _logging_decided:
        return False
    _logging_decided = True
    if logging.getLogger().handlers or logging.getLogger("sockjs_gevent").handlers:
        return False
    logging.basicConfig(level=number, format=LOG_FORMAT)
    return True


def build_server(
    app: WSGIApp,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    server: str = "httptools",
    request_timeout: float | None = 30.0,
    max_body_size: int | None = None,
    http_config: HttpConfig | None = None,
    ssl_context: Any = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    access_log: AccessLogTarget = None,
    handler_class: Any = None,
    backlog: int | None = None,
    listener: Any = None,
    handoff: Any = None,
) -> HttpServer | WSGIServer:
    """The server ``serve()`` runs (not yet started), after checking its keywords."""
    check_wsgi_app(app, "serve()")
    if server not in SERVERS:
        raise ValueError(f"server must be one of {', '.join(map(repr, SERVERS))}, got {server!r}")
    if server == "httptools":
        if handler_class is not None:
            raise TypeError("handler_class is a pywsgi option: pass server='pywsgi' with it")
        return make_http_server(
            app,
            host,
            port,
            request_timeout=request_timeout,
            max_body_size=max_body_size,
            http_config=http_config,
            ssl_context=ssl_context,
            certfile=certfile,
            keyfile=keyfile,
            access_log=access_log,
            backlog=backlog,
            listener=listener,
            handoff=handoff,
        )
    for name, value in (
        ("max_body_size", max_body_size),
        ("http_config", http_config),
        ("handoff", handoff),
        ("listener", listener),
    ):
        if value is not None:
            raise TypeError(f"{name} is an option of the httptools server, not of pywsgi")
    extra: dict[str, Any] = {}
    if handler_class is not None:
        extra["handler_class"] = handler_class
    if ssl_context is not None:
        extra["ssl_context"] = ssl_context
    if certfile is not None:
        extra["certfile"] = certfile
    if keyfile is not None:
        extra["keyfile"] = keyfile
    if backlog is not None:
        extra["backlog"] = backlog
    if access_log is not None:
        if isinstance(access_log, str):  # a path, or "-" for stderr, as for the httptools server
            access_log = sys.stderr if access_log == "-" else open(access_log, "a", buffering=1, encoding="utf-8")
        extra["log"] = access_log
    return make_server(app, host, port, request_timeout=request_timeout, **extra)


def serve(
    app: WSGIApp,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    server: str = "httptools",
    ready: Callable[[Any], None] | None = None,
    grace: float = 5.0,
    shutdown_code: int = 1001,
    shutdown_reason: str = "Server shutting down",
    freeze_gc: bool = False,
    request_timeout: float | None = 30.0,
    max_body_size: int | None = None,
    http_config: HttpConfig | None = None,
    ssl_context: Any = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    access_log: AccessLogTarget = None,
    handler_class: Any = None,
    backlog: int | None = None,
    listener: Any = None,
    handoff: Any = None,
    max_buffered_bytes: int | None = None,
    log_level: str | int | None = None,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then shut down gracefully.

    ``server``: ``"httptools"`` (the default: sockjs_gevent.http, llhttp
    parsing) or ``"pywsgi"`` (gevent's WSGIServer with SockJSHandler, or
    ``handler_class``). ``request_timeout`` bounds how long a client may
    stall a request (head, body, writes, idle keep-alive); ``http_config``
    (an ``HttpConfig``) sets every limit and timeout one by one instead.
    ``max_body_size`` answers larger request bodies with 413. TLS:
    ``ssl_context``, or ``certfile`` and ``keyfile``. ``access_log``: a
    logger, a text file or a path for one combined-format line per request.

    ``ready(server)`` is called once the socket listens (``server.server_port``
    is the real port when ``port=0``); by default ``print_ready`` prints
    the address. On a signal the server stops
    accepting, closes every session with ``c[shutdown_code,shutdown_reason]``,
    gives handlers and open requests ``grace`` seconds to finish, and returns.

    Unless ``GEVENT_TRACK_GREENLET_TREE`` is set, it turns off gevent's
    greenlet-tree tracking, a debugging aid that walks the stack and keeps
    ten frame records on every greenlet spawned (one per session here).
    ``freeze_gc=True`` keeps full GC passes short with many live sessions
    (see ``sockjs_gevent.gcfreeze`` for the trade-off).

    ``max_buffered_bytes`` sets the process's budget for client data held
    in every inbox and outbox together (``sockjs_gevent.budget``; default
    512 MiB or ``$SOCKJS_GEVENT_MAX_BUFFERED_BYTES``).

    ``listener``: a listening socket to serve instead of binding
    ``host:port`` (a worker of ``sockjs_gevent.workers``); ``handoff``: a
    ``sockjs_gevent.handoff.HandOff`` holding a slot, when several workers
    share that socket (httptools server only).

    Logging: if the application has configured none (the root logger and
    the ``sockjs_gevent`` logger have no handler), the first ``serve()``
    sends log records to stderr as ``TIME LEVEL LOGGER: MESSAGE`` at
    ``log_level`` (a name such as ``"DEBUG"``, in any case, or a number
    such as ``logging.DEBUG``; ``"INFO"`` by default), so the library's
    lines and a failing handler's traceback are readable. Logging the
    application configured is left as it is, ``log_level`` included.
    """
    if log_level is not None:
        check_log_level(log_level)
    running = build_server(
        app,
        host,
        port,
        server=server,
        request_timeout=request_timeout,
        max_body_size=max_body_size,
        http_config=http_config,
        ssl_context=ssl_context,
        certfile=certfile,
        keyfile=keyfile,
        access_log=access_log,
        handler_class=handler_class,
        backlog=backlog,
        listener=listener,
        handoff=handoff,
    )
    configure_logging("INFO" if log_level is None else log_level)
    check_patched()  # (a warning: formatted, when serve() set logging up)
    if max_buffered_bytes is not None:
        budget.configure(max_buffered_bytes)
    if freeze_gc:
        gcfreeze.enable()
    untrack_greenlet_tree()
    if handoff is not None:
        handoff.serve([running])
    running.start()
    stopping = gevent.event.Event()

    def stop(*_: Any) -> None:
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(sig, stop)
    (ready or print_ready)(running)  # by default, say where it listens (logging may not be set up)
    stopping.wait()
    shutdown(running, grace, shutdown_code, shutdown_reason)


def untrack_greenlet_tree() -> None:
    """Turn off gevent's greenlet-tree tracking unless ``GEVENT_TRACK_GREENLET_TREE`` is set.

    A debugging aid: it walks the stack and keeps ten frame records on
    every greenlet spawned, one per session here (about 50,000 CPU
    instructions on every websocket open, 8 % of it).
    """
    if "GEVENT_TRACK_GREENLET_TREE" not in os.environ:
        gevent.config.track_greenlet_tree = False


def shutdown(server: Any, grace: float = 5.0, code: int = 1001, reason: str = "Server shutting down") -> None:
    """Stop accepting, close every session, give handlers and open requests ``grace`` s in all, stop.

    ``server``: one server, or a list of them (a gunicorn worker's
    listeners). A hand-off (several workers on one port) is closed first,
    so a replacement worker can take the slot while this one drains.
    """
    servers = list(server) if isinstance(server, (list, tuple)) else [server]
    deadline = time.monotonic() + grace
    for handoff in {id(h): h for h in (getattr(s, "handoff", None) for s in servers) if h is not None}.values():
        handoff.close()
        log.info("hand-off: %s", ", ".join(f"{k} {v}" for k, v in handoff.stats.snapshot().items()))
    for each in servers:
        each.stop_accepting()
        close_idle = getattr(each, "close_idle_connections", None)
        if close_idle is not None:
            close_idle()
    sessions = close_all_sessions(code, reason)
    log.info("shutting down: closed %d session(s) with %d %r", len(sessions), code, reason)
    # Handlers still running (one that has returned left a shared dead greenlet, or None if refused).
    handlers = [g for g in (s.handler_greenlet for s in sessions) if g is not None and not g.dead]
    gevent.joinall(handlers, timeout=max(0.0, deadline - time.monotonic()))
    unfinished = [g for g in handlers if not g.dead]
    if unfinished:
        log.warning("%d handler(s) still running after %.1f s; stopping them", len(unfinished), grace)
        gevent.killall(unfinished, block=True, timeout=1.0)
    for each in servers:  # (a shared pool: the first stop waits for every connection of the pool)
        each.stop(timeout=max(0.1, deadline - time.monotonic()))


def print_ready(server: Any) -> None:
    """A ``ready`` callback that prints where the server listens (for scripts and tests)."""
    scheme = "https" if getattr(server, "ssl_enabled", False) else "http"
    # One write: print() writes the text and its newline separately, and
    # unbuffered workers sharing a pipe (the cluster) interleave them.
    sys.stdout.write(f"sockjs-gevent listening on {scheme}://{server.server_host}:{server.server_port}\n")
    sys.stdout.flush()
