"""``Worker``: gunicorn's worker class around this project's HttpServer (see the package docstring)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Iterable
from typing import Any

import gevent
import gevent.event
from gevent import hub, monkey
from gevent import socket as gevent_socket
from gunicorn.workers import base

from .. import budget
from ..server import shutdown, untrack_greenlet_tree
from .requests import (
    RESPONSE_HEADERS,
    STARTED,
    ForwardedScheme,
    GunicornAccess,
    RequestInfo,
    bad_request,
)
from .servers import WSGIApp, boot_error, start_servers_with_handoff
from .settings import is_default, refusals, warnings

log = logging.getLogger("sockjs_gevent.gunicorn")

#: The loggers of this project routed to gunicorn's error log.
LIBRARY_LOGGERS = ("sockjs_gevent", "flask_sockjs")
SHUTDOWN_CODE = 1001
SHUTDOWN_REASON = "Server shutting down"


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
        self.access: GunicornAccess | None = None
        self._stopping: gevent.event.Event | None = None
        self._signal_watchers: list[Any] = []

    # -- start ---------------------------------------------------------------------------

    def init_process(self) -> None:
        # Before anything of the app is imported (base.Worker.init_process loads it).
        monkey.patch_all()
        budget.configure_from_environment()  # (gunicorn's raw_env may have come after this package's import)
        untrack_greenlet_tree()
        self.listener_names = [str(listener) for listener in self.sockets]  # (before they are detached)
        # (gunicorn's listeners pass family and detach() through to their socket)
        self.sockets = [
            gevent_socket.socket(listener.family, gevent_socket.SOCK_STREAM, fileno=listener.detach())
            for listener in self.sockets
        ]
        hub.reinit()
        self._stopping = gevent.event.Event()
        problems = refusals(self.cfg)  # (a HUP may have loaded a new configuration)
        if problems:
            self.log.error("%s", problems[0])
            sys.exit(boot_error())
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
        post_request = None if is_default(cfg, "post_request") else cfg.post_request
        if log_access or post_request is not None:
            self.access = GunicornAccess(self, log_access, post_request)
        app = self.wrap(self.wsgi)
        heartbeat = gevent.spawn(self._keep_notifying)
        try:
            started = start_servers_with_handoff(self, app)
            if started is None:
                return
            servers, _ = started
            assert self._stopping is not None
            self._stopping.wait()
            shutdown(servers, cfg.graceful_timeout, SHUTDOWN_CODE, SHUTDOWN_REASON)
        finally:
            heartbeat.kill(block=False)

    def wrap(self, app: WSGIApp) -> WSGIApp:
        """``app`` with what gunicorn does around each request: the count, the scheme, hooks, keepalive 0."""
        cfg = self.cfg
        scheme = (
            ForwardedScheme(cfg.secure_scheme_headers, cfg.forwarded_allow_ips) if cfg.secure_scheme_headers else None
        )
        debug = getattr(getattr(self.log, "error_log", None), "level", logging.INFO) <= logging.DEBUG
        pre_request = cfg.pre_request if (debug or not is_default(cfg, "pre_request")) else None
        timed = self.access is not None
        close_always = cfg.keepalive <= 0
        worker = self

        def gunicorn_request(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            worker.nr += 1
            if worker.nr >= worker.max_requests and worker.alive:
                worker.log.info("Autorestarting worker after current request.")
                worker.stop_gracefully("max_requests")
            if scheme is not None and not scheme.apply(environ):
                return bad_request(start_response, "Contradictory scheme headers")
            if pre_request is not None:
                pre_request(worker, RequestInfo(environ))
            if not (timed or close_always):
                return app(environ, start_response)
            environ[STARTED] = time.time()

            def recording_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                if close_always and not status.startswith("101"):
                    headers = [*headers, ("Connection", "close")]
                environ[RESPONSE_HEADERS] = headers
                return start_response(status, headers, exc_info)

            return app(environ, recording_start_response)

        return gunicorn_request


def _logs_access(logger: Any) -> bool:
    """Whether gunicorn's logger does anything with ``access()`` (a file, a logconfig, syslog, or statsd)."""
    enabled = getattr(logger, "access_log_enabled", None)
    if enabled is None:  # gunicorn before 25
        cfg = logger.cfg
        enabled = bool(
            cfg.accesslog
            or cfg.logconfig
            or cfg.logconfig_dict
            or getattr(cfg, "logconfig_json", None)
            or (cfg.syslog and not cfg.disable_redirect_access_to_syslog)
        )
    if enabled:
        return True
    from gunicorn.glogging import Logger

    return type(logger).access is not Logger.access  # a logger class of its own (statsd counts every request)
