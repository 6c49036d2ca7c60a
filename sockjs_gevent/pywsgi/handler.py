"""gevent's pywsgi server set up for SockJS: ``SockJSHandler``, ``SockJSWSGIServer``, ``make_server``.

``serve(..., server="pywsgi")`` runs this instead of the httptools server.
The handler reads headers with ``_headers`` (strict, without the email
package's parser) and bounds request bodies with ``_bodyrate``.

gevent's stubs leave out the private parts of ``WSGIHandler`` and ``Input``
this relies on (``_headers``, ``_handle_client_error``, the ``rfile``
argument, ``_chunked_input_error``): ``_PywsgiHandler`` here and
``_bodyrate._PywsgiInput`` declare them for the type checker, and are
gevent's classes themselves at run time.
"""

from __future__ import annotations

import _socket
import logging
import socket
import time
from collections.abc import Iterator
from io import BufferedIOBase
from typing import TYPE_CHECKING, Any, Literal, cast

import gevent
from gevent import pywsgi
from gevent.pywsgi import OldMessage, WSGIHandler, WSGIServer

from ..acceptguard import AcceptGuard
from ..peerwatch import SOCKET_KEY, TAKE_SOCKET_KEY, detach_socket
from ..sockettaker import SocketTaker, TakenSocket
from ..waiting import quiet_timeout
from ._bodyrate import BoundedDrainInput, MinRateInput
from ._headers import Headers

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

    class _PywsgiHandler(WSGIHandler):
        """``WSGIHandler`` with what gevent has and its stubs leave out."""

        def __init__(self, sock: Any, address: Any, server: Any, rfile: Any = None) -> None: ...
        def _headers(self) -> Iterator[tuple[str, str]]: ...
        def _handle_client_error(self, ex: BaseException) -> tuple[str, bytes] | None: ...

else:
    _PywsgiHandler = WSGIHandler

#: The request handler's log lines keep the logger of the module it came from.
log = logging.getLogger("sockjs_gevent.server")

#: What pywsgi puts in place of an access log when there is none.
_NOOP_LOG = getattr(pywsgi, "_NoopLog", ())


class _BadRequest(ValueError):
    """A request pywsgi would take but that is ambiguous or incomplete (answered 400)."""


#: Answers to a request that could not be read.
_CLIENT_ERRORS = {
    400: ("400 Bad Request", b"Bad Request"),
    431: ("431 Request Header Fields Too Large", b"Request Header Fields Too Large"),
}


class SockJSHandler(_PywsgiHandler):
    """pywsgi's handler, plus the client socket in the environ and timeouts.

    Receiving transports watch the socket to notice a client that hung up
    while its request waits for data. A client cannot hold a greenlet by
    being slow: the whole request head must arrive within
    ``request_timeout`` seconds of the connection waiting for it (an idle
    keep-alive connection is closed after it too), a body must keep up
    with ``min_body_rate`` bytes/s after that much grace, and every socket
    operation (writes included) must progress within it. WebSockets clear
    the timeouts once upgraded. Headers are read strictly (see
    ``_headers``): 431 past 16 KiB, 400 for ambiguous framing.

    A body the app left unread is read away after the answer if at most
    ``max_drain_size`` bytes of it arrive within ``drain_timeout`` s, and
    keep-alive goes on; otherwise the connection closes, once the client
    had until that deadline to finish sending (closing on unread input
    resets the connection, and the reset can destroy the answer).
    """

    request_timeout: float | None = 30.0
    #: Bytes per second a request body must average after request_timeout s.
    min_body_rate = 64 * 1024  # as HttpConfig.body_min_rate
    #: The most of an unread body read away to keep the connection (as HttpConfig.max_drain_size).
    max_drain_size = 64 * 1024
    #: Seconds to read it away in, or to let the client finish sending before closing (as HttpConfig.linger_timeout).
    drain_timeout = 2.0
    #: Read buffer per connection (io's default is 8 KiB, held by every
    #: waiting poll or stream); request heads are a few hundred bytes, and
    #: bodies larger than it are read past it.
    read_buffer = 2048
    _head_deadline: gevent.Timeout | None = None

    def MessageClass(self, fp: BufferedIOBase, *_: object) -> OldMessage:
        """The request's headers: ``Headers`` reads them, with the interface of pywsgi's ``OldMessage`` it uses.

        (pywsgi's own runs the email package's parser: a sixth of a polling round trip.)
        """
        return cast(OldMessage, Headers.read(fp))

    def take_socket(self) -> _socket.socket:
        """Hand the connection over for good (an upgraded WebSocket): see ``peerwatch.TAKE_SOCKET_KEY``.

        This handler then ends without reading, writing or closing it.
        """
        self.close_connection = True
        self._taken = True
        return detach_socket(self.socket)

    def take_socket_with_head(self) -> TakenSocket:
        """The connection for good, and the head of the answer started, rendered as pywsgi would send it.

        The caller sends the head first (an upgrade's 101 with the new
        protocol's first bytes, in one send); pywsgi counts it as sent (the
        access log shows the status and its length, as when pywsgi sends
        it). b"" if the head is out, or the app has not called ``start_response``.
        """
        head = b""
        if self.status and not self.headers_sent:
            head = self._render_head()
        return TakenSocket(self.take_socket(), head)

    def _render_head(self) -> bytes:
        """What pywsgi's ``_write_with_headers`` sends before a body; its state as if it had sent it."""
        self.headers_sent = True
        self.finalize_headers()
        # (pywsgi keeps status and headers latin-1 encoded; the stubs say str)
        status = cast(bytes, self.status)
        headers = cast("list[tuple[bytes, bytes]]", self.response_headers)
        head = bytearray(b"HTTP/1.1 ")
        head += status
        head += b"\r\n"
        for name, value in headers:
            head += name
            head += b": "
            head += value
            head += b"\r\n"
        head += b"\r\n"
        self.response_length += len(head)
        return bytes(head)

    def log_request(self) -> None:
        # pywsgi formats the access-log line even when it is thrown away.
        if not isinstance(self.server.log, _NOOP_LOG):
            super().log_request()

    def _headers(self) -> Iterator[tuple[str, str]]:
        if isinstance(self.headers, Headers):
            return self.headers.wsgi_items()
        return super()._headers()

    def __init__(self, sock: Any, address: Any, server: Any, rfile: Any = None) -> None:
        if rfile is None and sock is not None:
            rfile = sock.makefile("rb", self.read_buffer)
        super().__init__(sock, address, server, rfile)
        self._socket_taker = SocketTaker(self)
        self._served = False  # a request of this connection was handled
        self._taken = False

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

    def handle_one_request(self) -> tuple[str, bytes] | Literal[True] | None:
        if self._served:
            # Each next request of the connection waits its turn behind the other
            # greenlets: a client pipelining thousands must not hold the rest up.
            gevent.sleep(0)
        self._served = True
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

    def read_request(self, raw_requestline: str) -> OldMessage:
        read = super().read_request(raw_requestline)  # (True: the stubs' OldMessage is not what gevent returns)
        if self.request_version == "HTTP/1.1" and "host" not in self.headers:
            raise _BadRequest("HTTP/1.1 request without Host")
        return read

    def _handle_client_error(self, ex: BaseException) -> tuple[str, bytes] | None:
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
        return status, (
            f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1") + body

    def handle_one_response(self) -> None:
        super().handle_one_response()  # (reads away what the app left of the body: BoundedDrainInput)
        body = self.wsgi_input
        if (
            isinstance(body, BoundedDrainInput)
            and not body.drained
            and not self._taken
            and not self.connection_upgraded
            and self.socket is not None
        ):
            self.close_connection = True
            self._linger(body.deadline)

    def _linger(self, deadline: float | None) -> None:
        """Half-close, and read away what the client still sends until ``deadline``, before the close."""
        sock = self.socket
        left = self.drain_timeout if deadline is None else deadline - time.monotonic()
        try:
            sock.shutdown(socket.SHUT_WR)
            if left > 0:
                with quiet_timeout(left):
                    while sock.recv(16384):
                        pass
        except OSError:
            pass  # reset, or gone: nothing left to protect

    def get_environ(self) -> WSGIEnvironment:
        deadline = self._head_deadline
        if deadline is not None:
            deadline.cancel()  # the head is in; the app's own time is not limited
        environ = super().get_environ()
        unbounded = self.wsgi_input
        assert unbounded is not None  # (pywsgi's get_environ made it)
        self.wsgi_input = BoundedDrainInput.replacing(unbounded, self.max_drain_size, self.drain_timeout)
        if environ["wsgi.input"] is unbounded:  # (else the app reads the socket's stream: an upgrade)
            environ["wsgi.input"] = self.wsgi_input
        environ[SOCKET_KEY] = self.socket
        environ[TAKE_SOCKET_KEY] = self._socket_taker
        if self.request_timeout is not None and (self.content_length or environ.get("HTTP_TRANSFER_ENCODING")):
            environ["wsgi.input"] = MinRateInput(environ["wsgi.input"], self.request_timeout, self.min_body_rate)
        return environ


class SockJSWSGIServer(AcceptGuard, WSGIServer):
    """pywsgi's WSGIServer that, out of descriptors, pauses accepting and logs a line a second at most.

    (See ``sockjs_gevent.acceptguard``; ``make_server`` builds this one.)
    """


def make_server(
    app: WSGIApplication, host: str = "127.0.0.1", port: int = 8080, request_timeout: float | None = 30.0, **kwargs: Any
) -> WSGIServer:
    """A gevent pywsgi WSGIServer (a ``SockJSWSGIServer``) set up for SockJS (not yet started).

    ``request_timeout``: seconds a client may stall a request (see
    SockJSHandler); other keywords go to ``WSGIServer``.
    """
    if "handler_class" not in kwargs:
        kwargs["handler_class"] = type("SockJSHandler", (SockJSHandler,), {"request_timeout": request_timeout})
    kwargs.setdefault("log", None)  # no access log per request; errors still go to logging
    return SockJSWSGIServer((host, port), app, **kwargs)
