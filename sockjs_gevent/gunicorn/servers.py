"""A worker's HttpServers, one per gunicorn listener, and the hand-off between the workers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..http import HttpServer
from ..http.reuse import ReusingSpawner
from .requests import ErrorStream
from .settings import http_config

if TYPE_CHECKING:  # pragma: no cover
    from .worker import Worker

WSGIApp = Callable[..., Iterable[bytes]]


class ListenerServer(HttpServer):
    """An HttpServer on one of gunicorn's listeners; ``environ`` is added to every request's environ."""

    def __init__(self, *args: Any, environ: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extra_environ = environ or {}

    def init_socket(self) -> None:
        super().init_socket()
        if not isinstance(self.address, tuple):  # a Unix socket: no host, no port (as gunicorn without Host)
            self.base_environ["SERVER_NAME"] = str(self.address)
            self.base_environ["SERVER_PORT"] = ""
        self.base_environ.update(self.extra_environ)


def start_servers_with_handoff(worker: Worker, app: WSGIApp) -> tuple[list[HttpServer], Any] | None:
    """The worker's servers, one per gunicorn listener, started, with their hand-off; None if stopped first.

    With ``workers > 1`` the worker first claims a hand-off slot (waiting,
    and notifying the arbiter, while a reload's old workers still hold
    every slot), so that no request is accepted before the worker can take
    connections from its peers and pass them on.
    """
    from ..channels import wait_for_bus
    from ..handoff import HandOff, SlotError

    cfg = worker.cfg
    try:
        handoff = HandOff.for_addresses(worker.listener_names, slots=cfg.workers)
    except (SlotError, OSError) as exc:  # the same in every worker: stop gunicorn rather than restart it forever
        worker.log.error("the hand-off between workers cannot start: %s", exc)
        sys.exit(boot_error())
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
    pool = ReusingSpawner(limit=cfg.worker_connections)  # (shared: a worker's connections in all)
    environ = {"wsgi.multiprocess": cfg.workers > 1, "wsgi.errors": ErrorStream(cfg)}
    servers: list[HttpServer] = []
    for listener in worker.sockets:
        server = ListenerServer(
            listener,
            app,
            config,
            ssl_context=ssl_context,
            spawn=pool,
            environ=environ,
            handoff=handoff,
            access_log=worker.access,
        )
        if cfg.workers > 1:
            server.max_accept = 1  # take one connection at a time: the workers share the accepting (as ggevent)
        servers.append(server)
    wait_for_bus()  # subscribed to Redis (when configured) before taking traffic: no early broadcast missed
    if handoff is not None:
        handoff.serve(servers)
    for each in servers:
        each.start()
    where = ", ".join(worker.listener_names)
    if handoff is not None:
        worker.log.info(
            "sockjs-gevent worker ready (pid: %s): %s, hand-off slot %d of %d", worker.pid, where, slot, cfg.workers
        )
    else:
        worker.log.info("sockjs-gevent worker ready (pid: %s): %s", worker.pid, where)
    return servers, handoff


def boot_error() -> int:
    """The exit status that makes gunicorn's arbiter stop with "Worker failed to boot"."""
    from gunicorn.arbiter import Arbiter

    return Arbiter.WORKER_BOOT_ERROR
