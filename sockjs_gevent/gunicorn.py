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
``worker_connections``       one gevent Pool per worker: connections served by
                             a greenlet at once (requests in progress, waiting
                             polls, idle keep-alive connections); a websocket
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

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import signal
import sys
import time
from typing import Any, Callable, Iterable, Optional

import gevent
import gevent.event
from gevent import hub, monkey
from gevent import socket as gevent_socket
from gevent.pool import Pool
from gunicorn.workers import base

from .app import close_all_sessions
from .http import HttpConfig, HttpServer

log = logging.getLogger("sockjs_gevent.gunicorn")

#: The loggers of this project routed to gunicorn's error log.
LIBRARY_LOGGERS = ("sockjs_gevent", "flask_sockjs")
SHUTDOWN_CODE = 1001
SHUTDOWN_REASON = "Server shutting down"
#: gunicorn's own ceilings (gunicorn/http/message.py).
_MAX_REQUEST_LINE = 8190
_MAX_HEADERS = 32768
#: Private environ keys: when the app was called, and the headers it answered with.
_STARTED = "sockjs_gevent.gunicorn.started"
_RESPONSE_HEADERS = "sockjs_gevent.gunicorn.response_headers"
_NAME = "sockjs_gevent.gunicorn.Worker"

WSGIApp = Callable[..., Iterable[bytes]]


# -- settings ---------------------------------------------------------------------------


def refusals(cfg: Any) -> list[str]:
    """The settings this worker cannot run with, one line each (empty when it can run)."""
    problems = []
    if cfg.threads > 1:
        problems.append(f"{_NAME} runs greenlets, not threads: remove --threads {cfg.threads} and bound concurrent "
                        f"connections per worker with --worker-connections (now {cfg.worker_connections})")
    if cfg.preload_app:
        problems.append(f"{_NAME} cannot preload the app (--preload): it would be imported in the arbiter before "
                        "gevent's monkey-patching, and a blocking call in it would freeze every session of a worker; "
                        "drop --preload (each worker imports the app right after patching)")
    if cfg.is_ssl and cfg.workers > 1:
        problems.append(f"{_NAME} with {cfg.workers} workers hands connections between them, and a TLS connection "
                        "cannot move to another process: terminate TLS at nginx (examples/nginx.conf) or run -w 1 "
                        "with certfile/keyfile")
    if getattr(cfg, "proxy_protocol", False) not in (False, None, "off"):
        problems.append(f"{_NAME} does not read the PROXY protocol: turn proxy_protocol off and have the proxy send "
                        "X-Forwarded-For and X-Forwarded-Proto (see forwarded_allow_ips)")
    if getattr(cfg, "protocol", "http") != "http":
        problems.append(f"{_NAME} speaks HTTP only, not protocol = {cfg.protocol!r}")
    protocols = getattr(cfg, "http_protocols", None)
    if protocols and list(protocols) != ["h1"]:
        problems.append(f"{_NAME} speaks HTTP/1.1 only: set http_protocols to h1 (now {','.join(protocols)})")
    return problems


#: Settings the worker ignores, with the value that means "not used" and why.
_IGNORED = (
    ("tmp_upload_dir", (None,), "request bodies stream to the app, nothing is spooled"),
    ("header_map", (None, "drop"), "header names with '_' are always dropped by this worker's HTTP server"),
    ("http_parser", (None, "auto"), "this worker parses HTTP with llhttp (httptools)"),
    ("permit_obsolete_folding", (None, False), "llhttp refuses obsolete line folding"),
    ("strip_header_spaces", (None, False), "llhttp refuses a space before a header's colon"),
    ("permit_unconventional_http_method", (None, False), "llhttp knows its own list of methods"),
    ("permit_unconventional_http_version", (None, False), "only HTTP/1.0 and HTTP/1.1 are served"),
    ("casefold_http_method", (None, False), "methods are taken as sent"),
)


def warnings(cfg: Any, environ: Optional[dict[str, str]] = None) -> list[str]:
    """Settings this worker ignores, one line each."""
    lines = []
    for name, unused, why in _IGNORED:
        value = getattr(cfg, name, None)
        if value not in unused:
            lines.append(f"{_NAME} ignores {name} = {value!r}: {why}")
    script_name = (environ if environ is not None else os.environ).get("SCRIPT_NAME")
    if script_name:
        lines.append(f"{_NAME} ignores SCRIPT_NAME={script_name!r} in the environment: give each SockJS service its "
                     "full prefix instead")
    return lines


def http_config(cfg: Any) -> HttpConfig:
    """The HttpConfig of gunicorn's settings (``keepalive`` and the ``limit_request_*`` three)."""
    default = HttpConfig()
    line = cfg.limit_request_line
    max_url = default.max_url_size if line <= 0 else min(line, _MAX_REQUEST_LINE)
    fields = cfg.limit_request_fields
    max_headers = _MAX_HEADERS if fields <= 0 or fields > _MAX_HEADERS else fields
    field_size = cfg.limit_request_field_size
    max_field = None if field_size <= 0 else field_size
    # A head must be able to hold the longest URL and the longest line gunicorn would accept.
    max_head = max(default.max_head_size, max_url + (max_field or 0) + 4096)
    keepalive = cfg.keepalive if cfg.keepalive > 0 else default.keepalive_timeout
    return default.replace(keepalive_timeout=keepalive, max_url_size=max_url, max_headers=max_headers,
                           max_field_size=max_field, max_head_size=max_head)


def _is_default(cfg: Any, name: str) -> bool:
    setting = cfg.settings.get(name)
    return setting is None or setting.get() is getattr(type(setting), "default", None)


# -- per request -----------------------------------------------------------------------


class ForwardedScheme:
    """gunicorn's ``secure_scheme_headers`` rule, for peers in ``forwarded_allow_ips``.

    A trusted peer (an allowed address, or any peer on a Unix socket) that
    sends one of the headers sets ``wsgi.url_scheme``: https when the value
    is the listed one, http otherwise; listed headers that disagree make
    the request a 400. Headers from other peers are ignored.
    """

    def __init__(self, secure_scheme_headers: dict[str, str], forwarded_allow_ips: Iterable[str]) -> None:
        self.headers = [("HTTP_" + name.upper().replace("-", "_"), value)
                        for name, value in secure_scheme_headers.items()]
        allowed = list(forwarded_allow_ips)
        self.anyone = "*" in allowed
        self.networks = []
        for entry in allowed:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                pass  # (gunicorn validated the setting; "*" and junk match nothing here)
        self._trusted: dict[str, bool] = {}

    def trusted(self, address: str) -> bool:
        if self.anyone or not address:  # "" is a Unix socket peer: trusted, as in gunicorn
            return True
        known = self._trusted.get(address)
        if known is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                known = False
            else:
                known = any(ip in network for network in self.networks)
            if len(self._trusted) < 1024:
                self._trusted[address] = known
        return known

    def apply(self, environ: dict[str, Any]) -> bool:
        """Set ``wsgi.url_scheme`` from the headers; False when they contradict each other."""
        scheme = None
        for key, secure in self.headers:
            value = environ.get(key)
            if value is None:
                continue
            if not self.trusted(environ.get("REMOTE_ADDR", "")):
                return True
            said = "https" if value == secure else "http"
            if scheme is None:
                scheme = said
            elif said != scheme:
                return False
        if scheme is not None:
            environ["wsgi.url_scheme"] = scheme
        return True


class RequestInfo:
    """What gunicorn's hooks and access log read of a request (``req``), built from the environ."""

    __slots__ = ("method", "uri", "path", "query", "version", "headers", "scheme", "remote_addr")

    def __init__(self, environ: dict[str, Any]) -> None:
        self.method = environ.get("REQUEST_METHOD")
        self.uri = environ.get("RAW_URI")
        self.path = environ.get("PATH_INFO")
        self.query = environ.get("QUERY_STRING")
        self.version = (1, 1) if environ.get("SERVER_PROTOCOL") == "HTTP/1.1" else (1, 0)
        self.scheme = environ.get("wsgi.url_scheme")
        self.remote_addr = environ.get("REMOTE_ADDR")
        headers = [(key[5:].replace("_", "-"), value) for key, value in environ.items()
                   if key.startswith("HTTP_") and isinstance(value, str)]
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if key in environ:
                headers.append((key.replace("_", "-"), environ[key]))
        self.headers = headers


class ResponseInfo:
    """What gunicorn's access log and post_request read of an answer (``resp``)."""

    __slots__ = ("status", "status_code", "headers", "sent", "response_length")

    def __init__(self, code: int, headers: list, sent: int) -> None:
        self.status = str(code)
        self.status_code = code
        self.headers = headers
        self.sent = self.response_length = sent


class GunicornAccess:
    """An HttpServer ``access_log``: gunicorn's access logger and post_request hook, per answered request."""

    def __init__(self, worker: "Worker", log_access: bool, post_request: Optional[Callable[..., Any]]) -> None:
        self.worker = worker
        self.log_access = log_access
        self.post_request = post_request

    def log(self, environ: dict[str, Any], status: int, size: int) -> None:
        started = environ.get(_STARTED)
        elapsed = datetime.timedelta(seconds=time.time() - started) if started else datetime.timedelta(0)
        resp = ResponseInfo(status, environ.get(_RESPONSE_HEADERS) or [], size)
        req = RequestInfo(environ)
        worker = self.worker
        try:
            if self.post_request is not None:
                self.post_request(worker, req, environ, resp)
            if self.log_access:
                worker.log.access(resp, req, environ, elapsed)
        except Exception:
            worker.log.exception("Error in post_request or the access log")


class ErrorStream:
    """``wsgi.errors``: what the app writes goes where gunicorn's error log writes.

    The streams are looked up at each write (gunicorn's ``WSGIErrorsWrapper``
    holds them, and USR1 reopens the files): writes here are rare.
    """

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    def write(self, data: str) -> None:
        from gunicorn.http.wsgi import WSGIErrorsWrapper

        WSGIErrorsWrapper(self.cfg).write(data)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass  # (each write is flushed)


def _bad_request(start_response: Any, message: str) -> list[bytes]:
    body = message.encode("latin-1")
    start_response("400 Bad Request", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                                       ("Connection", "close")])
    return [body]


# -- the servers --------------------------------------------------------------------


class ListenerServer(HttpServer):
    """An HttpServer on one of gunicorn's listeners; ``environ`` is added to every request's environ."""

    def __init__(self, *args: Any, environ: Optional[dict[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extra_environ = environ or {}

    def init_socket(self) -> None:
        super().init_socket()
        if not isinstance(self.address, tuple):  # a Unix socket: no host, no port (as gunicorn without Host)
            self.base_environ["SERVER_NAME"] = str(self.address)
            self.base_environ["SERVER_PORT"] = ""
        self.base_environ.update(self.extra_environ)


def start_servers_with_handoff(worker: "Worker", app: WSGIApp) -> Optional[tuple[list[HttpServer], Any]]:
    """The worker's servers, one per gunicorn listener, started, with their hand-off; None if stopped first.

    With ``workers > 1`` the worker first claims a hand-off slot (waiting,
    and notifying the arbiter, while a reload's old workers still hold
    every slot), so that no request is accepted before the worker can take
    connections from its peers and pass them on.
    """
    from .channels import wait_for_bus
    from .handoff import HandOff, SlotError

    cfg = worker.cfg
    try:
        handoff = HandOff.for_addresses(worker.listener_names, slots=cfg.workers)
    except (SlotError, OSError) as exc:  # the same in every worker: stop gunicorn rather than restart it forever
        worker.log.error("the hand-off between workers cannot start: %s", exc)
        sys.exit(_boot_error())
    slot = None
    if handoff is not None:
        slot = handoff.claim(heartbeat=worker.notify, alive=lambda: worker.alive)
        if slot is None:
            return None  # told to stop before a slot came free
    ssl_context = None
    if cfg.is_ssl:
        from gunicorn.sock import ssl_context as gunicorn_ssl_context

        ssl_context = gunicorn_ssl_context(cfg)
    config = http_config(cfg)
    pool = Pool(cfg.worker_connections)
    environ = {"wsgi.multiprocess": cfg.workers > 1, "wsgi.errors": ErrorStream(cfg)}
    servers: list[HttpServer] = []
    for listener in worker.sockets:
        kwargs: dict[str, Any] = {"ssl_context": ssl_context, "spawn": pool, "environ": environ}
        if handoff is not None:
            kwargs["handoff"] = handoff
        server = ListenerServer(listener, app, config, **kwargs)
        server.access_log = worker.access
        if cfg.workers > 1:
            server.max_accept = 1  # take one connection at a time: the workers share the accepting (as ggevent)
        servers.append(server)
    wait_for_bus()  # subscribed to Redis (when configured) before taking traffic: no early broadcast missed
    if handoff is not None:
        handoff.serve(servers)
    for server in servers:
        server.start()
    where = ", ".join(worker.listener_names)
    if handoff is not None:
        worker.log.info("sockjs-gevent worker ready (pid: %s): %s, hand-off slot %d of %d", worker.pid, where, slot,
                        cfg.workers)
    else:
        worker.log.info("sockjs-gevent worker ready (pid: %s): %s", worker.pid, where)
    return servers, handoff


def shutdown_servers(servers: list[HttpServer], handoff: Any, grace: float, code: int = SHUTDOWN_CODE,
                     reason: str = SHUTDOWN_REASON) -> None:
    """``sockjs_gevent.server.shutdown`` for all of a worker's servers at once, within ``grace`` seconds.

    The hand-off goes first (its slot is free at once for a replacement
    worker), then every server stops accepting and closes its idle
    connections, every session of the process is closed with ``code`` and
    ``reason``, handlers get what is left of ``grace`` to finish, and the
    open connections the rest of it.
    """
    deadline = time.monotonic() + grace
    if handoff is not None:
        handoff.close()
        log.info("hand-off: %s", ", ".join(f"{k} {v}" for k, v in handoff.stats.snapshot().items()))
    for server in servers:
        server.stop_accepting()
        server.close_idle_connections()
    sessions = close_all_sessions(code, reason)
    log.info("shutting down: closed %d session(s) with %d %r", len(sessions), code, reason)
    handlers = [s.handler_greenlet for s in sessions if s.handler_greenlet is not None]
    gevent.joinall(handlers, timeout=max(0.0, deadline - time.monotonic()))
    unfinished = [g for g in handlers if not g.dead]
    if unfinished:
        log.warning("%d handler(s) still running after %.1f s; stopping them", len(unfinished), grace)
        gevent.killall(unfinished, block=True, timeout=1.0)
    for server in servers:  # (they share one pool: the first stop waits for every connection)
        server.stop(timeout=max(0.1, deadline - time.monotonic()))


# -- the worker -----------------------------------------------------------------------


class Worker(base.Worker):
    """gunicorn's worker class for sockjs_gevent (see the module docstring for what each setting does)."""

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        """Called by the arbiter at start: a refused setting stops gunicorn with one line; ignored ones warn."""
        problems = refusals(cfg)
        if problems:
            raise RuntimeError(problems[0])  # gunicorn prints "Error: <it>" and exits 1
        for line in warnings(cfg):
            log.warning("%s", line)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listener_names: list[str] = []
        self.access: Optional[GunicornAccess] = None
        self._stopping: Optional[gevent.event.Event] = None
        self._signal_watchers: list[Any] = []

    # -- start ---------------------------------------------------------------------------

    def init_process(self) -> None:
        # Before anything of the app is imported (base.Worker.init_process loads it).
        monkey.patch_all()
        if "GEVENT_TRACK_GREENLET_TREE" not in os.environ:
            gevent.config.track_greenlet_tree = False
        self.listener_names = [str(listener) for listener in self.sockets]  # (before they are detached)
        self.sockets = [gevent_socket.socket(listener.FAMILY, gevent_socket.SOCK_STREAM, fileno=listener.sock.detach())
                        for listener in self.sockets]
        hub.reinit()
        self._stopping = gevent.event.Event()
        problems = refusals(self.cfg)  # (a HUP may have loaded a new configuration)
        if problems:
            self.log.error("%s", problems[0])
            sys.exit(_boot_error())
        self._route_library_logs()
        super().init_process()

    def _route_library_logs(self) -> None:
        """The library's loggers write where gunicorn's error log does, at its level (unless a logconfig rules)."""
        cfg = self.cfg
        if cfg.logconfig or cfg.logconfig_dict or getattr(cfg, "logconfig_json", None):
            return
        error_log = getattr(self.log, "error_log", None)
        if error_log is None:
            return
        for name in LIBRARY_LOGGERS:
            logger = logging.getLogger(name)
            logger.handlers = list(error_log.handlers)
            logger.setLevel(error_log.level)
            logger.propagate = False

    def init_signals(self) -> None:
        super().init_signals()
        # gevent runs these in its loop, at once and outside whatever greenlet was running;
        # SIGABRT (the arbiter's timeout) keeps the base handler, which runs even if the loop is stuck.
        self._signal_watchers = [
            gevent.signal_handler(signal.SIGTERM, self._graceful_stop_requested),
            gevent.signal_handler(signal.SIGQUIT, self._quit, signal.SIGQUIT),
            gevent.signal_handler(signal.SIGINT, self._quit, signal.SIGINT),
            gevent.signal_handler(signal.SIGUSR1, self._reopen_logs),
        ]

    def _graceful_stop_requested(self) -> None:
        self.stop_gracefully("SIGTERM")

    def _quit(self, sig: int) -> None:
        gevent.spawn(self.handle_quit, sig, None)  # (worker_int hook, then exit at once)

    def _reopen_logs(self) -> None:
        gevent.spawn(self.log.reopen_files)

    def stop_gracefully(self, why: str) -> None:
        """Stop gracefully: no more accepting, sessions closed with 1001, drained within graceful_timeout."""
        if self.alive:
            self.log.info("Worker stopping (pid: %s): %s", self.pid, why)
        self.alive = False
        if self._stopping is not None:
            self._stopping.set()

    def notify(self) -> None:
        super().notify()
        if self.alive and self.ppid != os.getppid():
            self.log.info("Parent changed, shutting down: %s", self)
            self.stop_gracefully("the arbiter is gone")

    def _keep_notifying(self) -> None:
        """Tell the arbiter this worker lives, as long as its event loop runs (also while it drains).

        It also notices ``alive`` turned false by code that cannot wake the
        event loop: gunicorn's reloader (``--reload``), a real thread.
        """
        interval = min(1.0, max(0.05, self.timeout / 2.0)) if self.timeout else 1.0
        while True:
            self.notify()
            if not self.alive and self._stopping is not None and not self._stopping.is_set():
                self.stop_gracefully("told to stop")
            gevent.sleep(interval)

    # -- serve --------------------------------------------------------------------------

    def run(self) -> None:
        cfg = self.cfg
        log_access = _logs_access(self.log)
        post_request = None if _is_default(cfg, "post_request") else cfg.post_request
        if log_access or post_request is not None:
            self.access = GunicornAccess(self, log_access, post_request)
        app = self.wrap(self.wsgi)
        heartbeat = gevent.spawn(self._keep_notifying)
        try:
            started = start_servers_with_handoff(self, app)
            if started is None:
                return
            servers, handoff = started
            assert self._stopping is not None
            self._stopping.wait()
            shutdown_servers(servers, handoff, cfg.graceful_timeout)
        finally:
            heartbeat.kill(block=False)

    def wrap(self, app: WSGIApp) -> WSGIApp:
        """``app`` with what gunicorn does around each request: the count, the scheme, hooks, keepalive 0."""
        cfg = self.cfg
        scheme = ForwardedScheme(cfg.secure_scheme_headers, cfg.forwarded_allow_ips) if cfg.secure_scheme_headers else None
        debug = getattr(getattr(self.log, "error_log", None), "level", logging.INFO) <= logging.DEBUG
        pre_request = cfg.pre_request if (debug or not _is_default(cfg, "pre_request")) else None
        timed = self.access is not None
        close_always = cfg.keepalive <= 0
        worker = self

        def gunicorn_request(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            worker.nr += 1
            if worker.nr >= worker.max_requests and worker.alive:
                worker.log.info("Autorestarting worker after current request.")
                worker.stop_gracefully("max_requests")
            if scheme is not None and not scheme.apply(environ):
                return _bad_request(start_response, "Contradictory scheme headers")
            if pre_request is not None:
                pre_request(worker, RequestInfo(environ))
            if not (timed or close_always):
                return app(environ, start_response)
            environ[_STARTED] = time.time()

            def recording_start_response(status: str, headers: list, exc_info: Any = None) -> Any:
                if close_always and not status.startswith("101"):
                    headers = [*headers, ("Connection", "close")]
                environ[_RESPONSE_HEADERS] = headers
                return start_response(status, headers, exc_info)

            return app(environ, recording_start_response)

        return gunicorn_request


def _logs_access(logger: Any) -> bool:
    """Whether gunicorn's logger does anything with ``access()`` (a file, a logconfig, syslog, or statsd)."""
    enabled = getattr(logger, "access_log_enabled", None)
    if enabled is None:  # gunicorn before 25
        cfg = logger.cfg
        enabled = bool(cfg.accesslog or cfg.logconfig or cfg.logconfig_dict or getattr(cfg, "logconfig_json", None)
                       or (cfg.syslog and not cfg.disable_redirect_access_to_syslog))
    if enabled:
        return True
    from gunicorn.glogging import Logger

    return type(logger).access is not Logger.access  # a logger class of its own (statsd counts every request)


def _boot_error() -> int:
    """The exit status that makes gunicorn's arbiter stop with "Worker failed to boot"."""
    from gunicorn.arbiter import Arbiter

    return Arbiter.WORKER_BOOT_ERROR
