"""``HttpServer``: gevent's StreamServer with an httptools (llhttp) HTTP/1.1 connection per greenlet."""

from __future__ import annotations

import _socket
import os
import socket
import ssl as stdlib_ssl
from collections.abc import Callable, Iterable
from typing import Any

import gevent
from gevent import ssl as gevent_ssl
from gevent.event import Event
from gevent.server import StreamServer

from ..acceptguard import AcceptGuard
from .accesslog import AccessLog, AccessLogTarget
from .config import HttpConfig
from .connection import HttpConnection
from .environ import base_environ
from .reuse import ReusingSpawner


class PlainAccept(StreamServer):
    """A StreamServer whose plain (not TLS) connections are OS sockets, not gevent's socket objects.

    The connection's greenlet waits on the socket itself (``sockio``), so
    gevent's wrapper would only cost time on every accept: its Python
    constructor and two io watchers, each checking the descriptor with a
    system call (about 6 us of the 9 it takes, where the OS socket object
    takes 3: one ``getsockname`` and one ``ioctl`` to make it non-blocking).
    """

    ssl_context: stdlib_ssl.SSLContext | None

    # (gevent's do_read returns None when the accept would block; the stubs say it never does)
    def do_read(self) -> tuple[Any, Any] | None:  # type: ignore[override]
        if self.ssl_context is not None:
            return super().do_read()  # gevent's socket, which its SSLSocket wraps
        listener: Any = self.socket  # (gevent's StreamServer keeps the OS socket of its listener here)
        try:
            fd, address = listener._accept()
        except BlockingIOError:
            return None
        try:
            sock = _socket.socket(listener.family, listener.type, listener.proto, fd)
        except BaseException:
            os.close(fd)
            raise
        sock.setblocking(False)
        return sock, address


class HttpServer(AcceptGuard, PlainAccept):
    """A PEP 3333 server: ``HttpServer(("127.0.0.1", 8080), app).serve_forever()``.

    ``handoff``: a ``sockjs_gevent.handoff.HandOff`` when several workers
    share the listener (see that package).

    ``spawn``: by default a connection is served by a greenlet that served
    an earlier one, parked since (``reuse.ReusingSpawner``, in ``reuse``;
    each connection still runs in a fresh ``contextvars`` context);
    ``spawn=gevent.spawn`` gives each its own new greenlet, and a gevent
    ``Pool`` bounds how many are served at once.

    ``config`` holds every limit and timeout (`HttpConfig`).
    ``ssl_context`` (or ``certfile`` and ``keyfile``) serves HTTPS; the TLS
    handshake counts against ``config.header_timeout``. ``access_log``: an
    object with ``log(environ, status, size)`` (``accesslog.RequestLogger``), a
    ``logging.Logger``, a text file or a path for combined-format lines
    (None, the default, logs nothing per request).

    ``start()``, ``stop_accepting()``, ``stop(timeout)``, ``server_host``
    and ``server_port`` are StreamServer's. ``close_idle_connections()``
    ends kept-alive connections that wait between requests, and makes every
    other one close after its current answer (for a graceful shutdown).
    Out of descriptors, accepting pauses and logs a line a second at most
    (``sockjs_gevent.acceptguard``).
    """

    # Set by gevent's BaseServer.set_spawn (None: no greenlet per connection);
    # the stubs leave this private attribute out.
    _spawn: Callable[..., Any] | None

    def __init__(
        self,
        listener: Any,
        application: Callable[..., Iterable[bytes]],
        config: HttpConfig | None = None,
        *,
        ssl_context: stdlib_ssl.SSLContext | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        access_log: AccessLogTarget = None,
        backlog: int | None = None,
        spawn: Any = "default",
        handoff: Any = None,
    ) -> None:
        if config is not None and not isinstance(config, HttpConfig):
            raise TypeError(f"config must be an HttpConfig, got {config!r}")
        if ssl_context is None and (certfile or keyfile):
            ssl_context = tls_context(certfile, keyfile)
        elif ssl_context is not None and (certfile or keyfile):
            raise TypeError("give either ssl_context or certfile/keyfile, not both")
        if handoff is not None and ssl_context is not None:
            raise ValueError(
                "several workers on one port cannot serve TLS themselves (a TLS connection cannot "
                "move to another process): terminate TLS in front (nginx), or run one worker"
            )
        #: Connections served by reused greenlets: the default ``spawn``, or a ReusingSpawner
        #: given (None with another spawn).
        self.reuse: ReusingSpawner | None = None
        if isinstance(spawn, ReusingSpawner):
            self.reuse = spawn
        elif isinstance(spawn, str) and spawn == "default":
            self.reuse = ReusingSpawner()
        spawner: Any = self.reuse or spawn  # (gevent's stubs want its spawn to return the greenlet)
        super().__init__(listener, backlog=backlog, spawn=spawner)
        self.application = application
        self.config = config or HttpConfig()
        self.ssl_context = ssl_context
        self.access_log = AccessLog.of(access_log)
        #: True once the server is shutting down: connections close after their answer.
        self.draining = False
        #: Connections waiting for a next request (closed at once on shutdown).
        self.idle: set[HttpConnection] = set()
        self.base_environ: dict[str, Any] = {}
        #: Several workers on one port: the ``sockjs_gevent.handoff.HandOff`` passing
        #: session requests to the worker that holds the session (None: one worker).
        self.handoff = handoff
        #: This server's listener among the worker's, for the hand-off messages.
        self.handoff_index = 0

    @property
    def ssl_enabled(self) -> bool:
        return self.ssl_context is not None

    def init_socket(self) -> None:
        super().init_socket()
        self.base_environ = base_environ(self.server_host, self.server_port, self.ssl_context is not None)

    def handle(self, sock: Any, address: Any) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # not TCP (a Unix socket)
        if self.ssl_context is not None:
            sock = gevent_ssl.SSLSocket(
                sock=sock, server_side=True, do_handshake_on_connect=False, _context=self.ssl_context
            )
            HttpConnection(self, sock, address, True).run()
        else:
            HttpConnection(self, sock, address, False).run()

    def resume(self, sock: _socket.socket, address: Any) -> None:
        """Serve the next requests of a connection that was lent (``LentSocket.give_back``), in a new greenlet."""
        if self.draining or self.closed:
            sock.close()
            return
        # (Not through a gevent Pool: a full one would block, and this runs in
        # the event loop; a ReusingSpawner never blocks. The connection closes
        # its socket itself.)
        (self.reuse or gevent.spawn)(HttpConnection(self, sock, address, False).run, True)

    def adopt(self, sock: Any, address: Any, data: bytes) -> None:
        """Serve a connection another worker handed over, with the bytes it had read (its first request is ours)."""
        if self.draining or self.closed:
            sock.close()
            return
        reuse = self.reuse
        if reuse is not None:
            # As a full gevent Pool's spawn would: the hand-off waits for a
            # place, backpressure to the worker that sends it.
            while reuse.full():
                freed = Event()
                reuse.when_free(freed.set)
                freed.wait()
                if self.draining or self.closed:
                    sock.close()
                    return
            reuse(HttpConnection(self, sock, address, False, data, True).run)
            return
        spawn = self._spawn or gevent.spawn  # a full pool makes the hand-off wait: backpressure to the sender
        spawn(HttpConnection(self, sock, address, False, data, True).run)

    def full(self) -> bool:
        """True while a ``ReusingSpawner`` with a limit serves that many (accepting pauses until one ends)."""
        reuse = self.reuse
        if reuse is None:
            return super().full()
        if reuse.full():
            reuse.when_free(self._resume_accepting)
            return True
        return False

    def _resume_accepting(self) -> None:
        if self.started:  # (not once stopped)
            self.start_accepting()

    def stop(self, timeout: float | None = None) -> None:
        """Close the listener and idle connections; wait up to ``timeout`` s for the others, then stop them.

        (gevent's default: ``stop_timeout``, 1 s.) Connections served in a
        gevent ``Pool`` are waited for by gevent's own ``stop``.
        """
        super().stop(timeout)
        reuse = self.reuse
        if reuse is not None and reuse.running:
            if not reuse.join(self.stop_timeout if timeout is None else timeout):
                reuse.kill(timeout=1.0)

    def close_idle_connections(self) -> None:
        """Close connections idle between requests; the others close after their current answer."""
        self.draining = True
        for connection in list(self.idle):
            connection.io.end_reading()  # its waiting read sees the end of the stream

    def close(self) -> None:
        self.close_idle_connections()
        super().close()


def tls_context(certfile: str | None, keyfile: str | None = None) -> stdlib_ssl.SSLContext:
    """A server-side TLS context from a certificate chain file and its key."""
    if not certfile:
        raise TypeError("certfile is required for TLS (keyfile may be inside it)")
    context = gevent_ssl.create_default_context(gevent_ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context
