"""Run a WSGI app (SockJS services, a Router, a Flask app) on gevent's WSGIServer."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
import weakref
from typing import Any, Callable, Iterable, Optional

import gevent
from gevent import pywsgi
from gevent.pywsgi import WSGIHandler, WSGIServer

from .app import close_all_sessions
from . import gcfreeze
from .bodyrate import MinRateInput
from .httpheaders import Headers
from .peerwatch import SOCKET_KEY, TAKE_SOCKET_KEY

log = logging.getLogger("sockjs_gevent.server")

WSGIApp = Callable[..., Iterable[bytes]]


class _SocketTaker:
    """``environ[TAKE_SOCKET_KEY]``: calls the handler's take_socket().

    It holds the handler weakly: a bound method in the environ (which the
    handler holds) would make every request a reference cycle, garbage only
    the cyclic GC frees, and with many sessions its full passes take
    hundreds of milliseconds.
    """

    __slots__ = ("_handler",)

    def __init__(self, handler: "SockJSHandler") -> None:
        self._handler = weakref.ref(handler)

    def __call__(self) -> socket.socket:
        handler = self._handler()
        if handler is None:
            raise RuntimeError("the request is over: its socket is gone")
        return handler.take_socket()


#: What pywsgi puts in place of an access log when there is none.
_NOOP_LOG = getattr(pywsgi, "_NoopLog", ())


class _BadRequest(ValueError):
    """A request pywsgi would take but that is ambiguous or incomplete (answered 400)."""


#: Answers to a request that could not be read.
_CLIENT_ERRORS = {
    400: ("400 Bad Request", b"Bad Request"),
    431: ("431 Request Header Fields Too Large", b"Request Header Fields Too Large"),
}


class SockJSHandler(WSGIHandler):
    """pywsgi's handler, plus the client socket in the environ and timeouts.

    Receiving transports watch the socket to notice a client that hung up
    while its request waits for data. A client cannot hold a greenlet by
    being slow: the whole request head must arrive within
    ``request_timeout`` seconds of the connection waiting for it (an idle
    keep-alive connection is closed after it too), a body must keep up
    with ``min_body_rate`` bytes/s after that much grace, and every socket
    operation (writes included) must progress within it. WebSockets clear
    the timeouts once upgraded. Headers are read strictly (see
    ``httpheaders``): 431 past 16 KiB, 400 for ambiguous framing.
    """

    request_timeout: Optional[float] = 30.0
    #: Bytes per second a request body must average after request_timeout s.
    min_body_rate = 16 * 1024
    #: Read buffer per connection (io's default is 8 KiB, held by every
    #: waiting poll or stream); request heads are a few hundred bytes, and
    #: bodies larger than it are read past it.
    read_buffer = 2048
    MessageClass = Headers.read  # pywsgi's default runs the email package's parser

    def take_socket(self) -> socket.socket:
        """Hand the connection over for good (an upgraded WebSocket).

        This handler then ends without reading, writing or closing it; the
        caller gets a new socket object on the same descriptor.
        """
        self.close_connection = True
        sock = self.socket
        taken = type(sock)(fileno=sock.detach())
        taken.settimeout(None)
        return taken

    def log_request(self) -> None:
        # pywsgi formats the access-log line even when it is thrown away.
        if not isinstance(self.server.log, _NOOP_LOG):
            super().log_request()

    def _headers(self):  # type: ignore[no-untyped-def]
        if isinstance(self.headers, Headers):
            return self.headers.wsgi_items()
        return super()._headers()

    def __init__(self, sock: Any, address: Any, server: Any, rfile: Any = None) -> None:
        if rfile is None and sock is not None:
            rfile = sock.makefile("rb", self.read_buffer)
        super().__init__(sock, address, server, rfile)
        self._socket_taker = _SocketTaker(self)

    def handle(self) -> None:
        # pywsgi writes a response's head and body in separate sends; with
        # Nagle's algorithm the body then waits for the client's delayed ACK
        # (40 ms on Linux), which would cap polling at ~25 round trips/s.
        if self.socket is not None:
            try:
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass  # not TCP (a Unix socket)
        try:
            super().handle()
        except OSError:
            pass  # the client went away while we answered: nothing to tell anyone

    def handle_one_request(self):  # type: ignore[no-untyped-def]
        timeout = self.request_timeout
        if timeout is None:
            return super().handle_one_request()
        if self.socket is not None:
            self.socket.settimeout(timeout)
        # One deadline for the whole head (request line and headers), not
        # per read: a byte every few seconds must not keep a request open.
        # get_environ() cancels it once the head is in.
        head_deadline = self._head_deadline = gevent.Timeout(timeout)
        head_deadline.start()
        try:
            return super().handle_one_request()
        except gevent.Timeout as expired:
            if expired is not head_deadline:
                raise
            return None  # a slow or silent client: close the connection quietly
        except TimeoutError:
            return None
        finally:
            head_deadline.close()
            self._head_deadline = None

    def read_request(self, raw_requestline: str) -> bool:
        super().read_request(raw_requestline)
        if self.request_version == "HTTP/1.1" and "host" not in self.headers:
            raise _BadRequest("HTTP/1.1 request without Host")
        return True

    def _handle_client_error(self, ex: BaseException):  # type: ignore[no-untyped-def]
        """A request that could not be read: one answer and at most one log line."""
        if isinstance(ex, OSError):
            return None  # the client reset or closed mid-request: nobody to answer
        code = 400
        headers = getattr(self, "headers", None)
        if isinstance(headers, Headers) and headers.status:
            code = headers.status_code
            reason = headers.status
        else:
            reason = str(ex)
        log.info("refused a request from %s: %s", self.client_address[0] if self.client_address else "?", reason)
        status, body = _CLIENT_ERRORS[code]
        return status, (f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body

    def get_environ(self) -> dict[str, Any]:
        deadline = getattr(self, "_head_deadline", None)
        if deadline is not None:
            deadline.cancel()  # the head is in; the app's own time is not limited
        environ = super().get_environ()
        environ[SOCKET_KEY] = self.socket
        environ[TAKE_SOCKET_KEY] = self._socket_taker
        if self.request_timeout is not None and (self.content_length or environ.get("HTTP_TRANSFER_ENCODING")):
            environ["wsgi.input"] = MinRateInput(environ["wsgi.input"], self.request_timeout, self.min_body_rate)
        return environ


def make_server(
    app: WSGIApp, host: str = "127.0.0.1", port: int = 8080, request_timeout: Optional[float] = 30.0, **kwargs: Any
) -> WSGIServer:
    """A WSGIServer set up for SockJS (not yet started).

    ``request_timeout``: seconds a client may stall a request (see SockJSHandler).
    """
    if "handler_class" not in kwargs:
        kwargs["handler_class"] = type("SockJSHandler", (SockJSHandler,), {"request_timeout": request_timeout})
    kwargs.setdefault("log", None)  # no access log per request; errors still go to logging
    return WSGIServer((host, port), app, **kwargs)


def serve(
    app: WSGIApp,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    ready: Optional[Callable[[WSGIServer], None]] = None,
    grace: float = 5.0,
    shutdown_code: int = 1001,
    shutdown_reason: str = "Server shutting down",
    freeze_gc: bool = False,
    **kwargs: Any,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then shut down gracefully.

    ``ready(server)`` is called once the socket listens (``server.server_port``
    is the real port when ``port=0``). On a signal the server stops
    accepting, closes every session with ``c[shutdown_code,shutdown_reason]``,
    gives handlers and open requests ``grace`` seconds to finish, and returns.

    Unless ``GEVENT_TRACK_GREENLET_TREE`` is set, it turns off gevent's
    greenlet-tree tracking, a debugging aid that walks the stack and keeps
    ten frame records on every greenlet spawned (one per session here).
    ``freeze_gc=True`` keeps full GC passes short with many live sessions
    (see ``sockjs_gevent.gcfreeze`` for the trade-off).
    """
    if freeze_gc:
        gcfreeze.enable()
    if "GEVENT_TRACK_GREENLET_TREE" not in os.environ:
        gevent.config.track_greenlet_tree = False
    server = make_server(app, host, port, **kwargs)
    server.start()
    stopping = gevent.event.Event()

    def stop(*_: Any) -> None:
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(sig, stop)
    if ready is not None:
        ready(server)
    else:
        log.info("sockjs-gevent listening on http://%s:%d", server.server_host, server.server_port)
    stopping.wait()
    shutdown(server, grace, shutdown_code, shutdown_reason)


def shutdown(server: WSGIServer, grace: float = 5.0, code: int = 1001, reason: str = "Server shutting down") -> None:
    """Stop accepting, close every session, wait up to ``grace`` s, stop."""
    server.stop_accepting()
    sessions = close_all_sessions(code, reason)
    log.info("shutting down: closed %d session(s) with %d %r", len(sessions), code, reason)
    handlers = [s.handler_greenlet for s in sessions if s.handler_greenlet is not None]
    started = time.monotonic()
    gevent.joinall(handlers, timeout=grace)
    unfinished = [g for g in handlers if not g.dead]
    if unfinished:
        log.warning("%d handler(s) still running after %.1f s; stopping them", len(unfinished), grace)
        gevent.killall(unfinished, block=True, timeout=1.0)
    server.stop(timeout=max(0.1, grace - (time.monotonic() - started)))


def print_ready(server: WSGIServer) -> None:
    """A ``ready`` callback that prints where the server listens (for scripts and tests).

    One write of the whole line: cluster workers share one stdout, and
    print() writes the text and the newline separately, so two workers'
    lines could interleave mid-line.
    """
    sys.stdout.write(f"sockjs-gevent listening on http://{server.server_host}:{server.server_port}\n")
    sys.stdout.flush()
