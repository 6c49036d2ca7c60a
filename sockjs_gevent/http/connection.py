"""One connection: llhttp's callbacks, the request queue and the loop of one greenlet.

The greenlet reads the socket only while it waits for a request head and
when the app reads a body; it feeds what it reads to the parser, whose
callbacks build each request's environ and queue it (pipelined requests
wait in the queue and are answered in order). While the app runs, nothing
reads the socket: a waiting request can watch it for a hang-up.

Every request the server refuses itself gets a short plain answer, the
connection is closed (after reading away what the client still sends, for
a moment), and one log line at INFO; a client that vanishes gets one line
at DEBUG.
"""

from __future__ import annotations

import _socket
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from gevent import sleep
from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser

from ..handoff.owner import SENDING_TRANSPORTS
from ..peerwatch import TAKE_SOCKET_KEY, detach_socket
from ..sockettaker import LendingSocketTaker, TakenSocket
from .environ import _METHODS, connection_environ, header_key, method_name, split_target
from .input import (
    EMPTY_BODY,
    BodyError,
    BodyTimeout,
    ClientDisconnected,
    MalformedBody,
    RequestBody,
    RequestBodyTooLarge,
)
from .lent import LentSocket
from .limits import limits_of
from .response import CHUNKED, UNTIL_CLOSE, Response, error_response, iterate
from .sockio import Closed, DeadlinePassed, PlainIO, TlsIO

if TYPE_CHECKING:
    from .server import HttpServer

log = logging.getLogger("sockjs_gevent.http")

REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Content Too Large",
    414: "URI Too Long",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}

# Request headers the parser glue looks at (environ keys).
_HOST = "HTTP_HOST"
_TE = "HTTP_TRANSFER_ENCODING"
_CONNECTION = "HTTP_CONNECTION"
_EXPECT = "HTTP_EXPECT"
_COOKIE = "HTTP_COOKIE"
# Bits of HttpConnection._flags: which of those headers the head had.
_HOST_SEEN, _TE_SEEN, _CONNECTION_SEEN, _EXPECT_SEEN, _LENGTH_SEEN = 1, 2, 4, 8, 16
_FLAGS = {
    _HOST: _HOST_SEEN,
    _TE: _TE_SEEN,
    _CONNECTION: _CONNECTION_SEEN,
    _EXPECT: _EXPECT_SEEN,
    "CONTENT_LENGTH": _LENGTH_SEEN,
}


class RequestRefused(Exception):
    """A request the server answers itself (``code``) without calling the app."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Abort(Exception):
    """Raised in a parser callback to stop the parser (the reason is in ``_refused``)."""


class Request:
    """A parsed request head waiting for, or being given to, the app."""

    __slots__ = ("environ", "body", "keep_alive", "head", "http11", "expect_continue", "raw")

    def __init__(
        self,
        environ: dict[str, Any],
        body: RequestBody,
        keep_alive: bool,
        head: bool,
        http11: bool,
        expect_continue: bool,
    ) -> None:
        self.environ = environ
        self.body = body
        self.keep_alive = keep_alive
        self.head = head
        self.http11 = http11
        self.expect_continue = expect_continue
        #: Hand-off mode: the bytes of its head, when nothing behind it was parsed (else None).
        self.raw: bytes | None = None


class HttpConnection:
    """Serves the requests of one client connection, in its own greenlet."""

    __slots__ = (
        "server",
        "app",
        "limits",
        "io",
        "parser",
        "queue",
        "template",
        "response",
        "request",
        "access_log",
        # the head being parsed
        "_environ",
        "_url",
        "_head_size",
        "_head_fed",
        "_headers",
        "_flags",
        "_in_head",
        "_head_deadline",
        "_body",
        # the state of reading
        "_refused",
        "_stop_reading",
        "_upgrade_body",
        "_taken",
        "_continue_sent",
        # hand-off mode (several workers on one port): see _feed_split
        "handoff",
        "_pending",
        "_head_raw",
        "_body_length",
        "_exact",
        "_handed",
        "_drain_deadline",
        "address",
        "_taker",
    )
    #: What ``_release`` deletes (a compiled build allows ``del`` of these alone).
    __deletable__ = ("parser", "template")

    def __init__(
        self, server: HttpServer, sock: Any, address: Any, tls: bool, pending: bytes = b"", handed: bool = False
    ) -> None:
        """``pending``: bytes already read from ``sock`` (by the worker that handed it over, with ``handed``)."""
        self.server = server
        self.address = address
        self.app = server.application
        self.access_log = server.access_log
        limits = self.limits = limits_of(server.config)
        self.io = (TlsIO if tls else PlainIO)(sock, limits.read_size)
        self.parser = HttpRequestParser(self)
        self.queue: deque[Request] = deque()
        self._taker = LendingSocketTaker(self)
        self.template = connection_environ(server.base_environ, sock, address, self._taker, TAKE_SOCKET_KEY)
        self.response = Response(self.io, limits.write_timeout)
        self.request: Request | None = None
        self._environ: dict[str, Any] | None = None  # the head being parsed
        self._url = b""
        self._head_size = 0
        self._head_fed = 0
        self._headers = 0
        self._flags = 0
        self._in_head = False
        self._head_deadline: float | None = None
        self._body: RequestBody | None = None
        self._refused: RequestRefused | None = None
        self._stop_reading = False
        self._upgrade_body: RequestBody | None = None
        self._taken = False
        self._continue_sent = False
        self.handoff = server.handoff
        self._pending = pending
        self._head_raw = b""
        self._body_length: int | None = None
        self._exact = True
        self._handed = handed  # its first request was sent here by the worker that read it: serve it
        self._drain_deadline: float | None = None  # while reading away a body the app left

    # -- the loop --------------------------------------------------------------------

    def run(self, resumed: bool = False) -> None:
        """Serve requests until the connection ends; ``resumed``: it served some before (it was lent)."""
        io = self.io
        try:
            if not resumed:
                if self.limits.header_timeout is not None:
                    self._head_deadline = io.now() + self.limits.header_timeout
                io.handshake(self._head_deadline)
            first = not resumed
            while True:
                request = self._next_request(first)
                if request is None or not self._serve(request):
                    break
                first = False
                if self.queue or self._pending:
                    # Pipelined requests wait: let every other connection and
                    # greenlet have a turn first, so a client pipelining
                    # thousands cannot make everyone else wait for all of them.
                    sleep(0)
        except DeadlinePassed:
            log.debug("connection from %s timed out", self.template.get("REMOTE_ADDR"))
        except (Closed, ConnectionError):
            log.debug("connection from %s lost", self.template.get("REMOTE_ADDR"))
        except OSError as exc:  # TLS handshake failures and the like
            log.debug("connection from %s failed: %s", self.template.get("REMOTE_ADDR"), exc)
        finally:
            if self._taken:
                io.release()
            else:
                io.close()
            self._release()

    def _release(self) -> None:
        """Drop what a lingering reference (an app holding ``write``) must not keep."""
        for request in self.queue:
            request.body.detach()
        self.queue.clear()
        self.request = None
        self._environ = None
        self._body = None
        self._upgrade_body = None
        self._pending = self._head_raw = b""
        del self.parser, self.template  # (the parser refers to this connection: a cycle)
        self._taker.release()  # (an environ a session keeps refers to it)

    def _next_request(self, first: bool) -> Request | None:
        """The next request, reading for it if none is queued; None to close."""
        queue = self.queue
        if queue:
            return queue.popleft()
        io = self.io
        server = self.server
        limits = self.limits
        idle_deadline = None
        if not first and limits.keepalive_timeout is not None:
            idle_deadline = io.now() + limits.keepalive_timeout
        after_answer = not first  # the client is still reading our answer
        while True:
            if self._refused is not None:
                self._refuse(self._refused)
                return None
            if self._stop_reading or (server.draining and not first):
                return None  # (a new connection still gets its first answer)
            if self._pending:  # hand-off mode: read already, not parsed yet
                data = self._pending
                self._pending = b""
            elif self._in_head or first:
                if self._head_deadline is None and limits.header_timeout is not None:
                    self._head_deadline = io.now() + limits.header_timeout
                try:
                    data = io.recv(self._head_deadline, after_answer)
                except DeadlinePassed:
                    log.debug("request head from %s not complete in time", self.template["REMOTE_ADDR"])
                    return None
            else:
                idle = server.idle
                idle.add(self)
                try:
                    if after_answer:  # the common wait: no new timer
                        data = io.recv_idle(limits.keepalive_timeout)
                    else:  # (bytes came, but no request yet: the same deadline goes on)
                        data = io.recv(idle_deadline)
                except DeadlinePassed:
                    return None  # idle keep-alive connection: close quietly
                finally:
                    idle.discard(self)
            after_answer = False
            if not data:
                if self._in_head:
                    log.debug("client %s closed in the middle of a request head", self.template["REMOTE_ADDR"])
                return None
            if self.handoff is None:
                self._feed(data)
            else:
                self._feed_split(data)
            if queue:
                return queue.popleft()

    def _feed(self, data: bytes) -> None:
        """Give bytes to the parser; its callbacks queue requests and fill bodies."""
        began = self._in_head
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade as upgrade:  # (one name per exception type: a compiled build types it once)
            self._stop_reading = True
            body = self._upgrade_body
            if body is not None:
                body.leftover(data[upgrade.args[0] :])
            return
        except HttpParserError as exc:
            self._stop_reading = True
            refused = self._refused
            if refused is None:
                refused = self._refused = RequestRefused(400, _parser_message(exc))
            body = self._body
            if body is not None and not body.complete:
                # the body being received is broken: its reader learns why
                body.error = (RequestBodyTooLarge if refused.code == 413 else MalformedBody)(refused.message)
                if self.request is not None and self.request.body is body:
                    self._refused = None  # answered through the app's failed read
            return
        if self._in_head:
            if began:
                self._head_fed += len(data)
            if max(self._head_fed, self._head_size) > self.limits.max_head_size:
                self._stop_reading = True
                self._refused = RequestRefused(
                    431, f"Request header block larger than {self.limits.max_head_size} bytes."
                )

    def _feed_split(self, data: bytes) -> None:
        """Hand-off mode: feed the parser no further than the end of one request head or body.

        What follows stays in ``_pending``, unparsed, so that a request's
        own bytes are known (``Request.raw`` and what came after it) and the
        connection can be handed to another worker before anything behind
        the request has been parsed here. A chunked body is fed whole (its
        end is the parser's to find); requests parsed behind it are then
        not handed over (``raw`` None) but served here.
        """
        body = self._body
        if body is not None and not body.complete and body is not self._upgrade_body:
            length = self._body_length
            if length is None:
                self._exact = False
                self._feed(data)
                return
            left = length - body.received
            if len(data) > left:
                self._pending = data[left:]
                data = data[:left]
            self._feed(data)
            return
        held = self._head_raw
        raw = held + data if held else data
        end = raw.find(b"\r\n\r\n", max(0, len(held) - 3))
        if end < 0:
            self._head_raw = raw  # (bounded: the parser refuses a head past max_head_size)
            self._feed(data)
            return
        cut = end + 4 - len(held)
        rest = data[cut:]
        queued = len(self.queue)
        self._head_raw = b""
        self._feed(data[:cut] if rest else data)
        if len(self.queue) > queued and self._exact:
            self.queue[-1].raw = raw[: end + 4]
        if rest:
            upgrade = self._upgrade_body
            if upgrade is not None and self._stop_reading:
                upgrade.leftover(rest)  # the new protocol's first bytes
            else:
                self._pending = rest

    def _hand_off(self, request: Request, slot: int) -> bool:
        """Pass the connection, with the bytes of this request read so far, to ``slot``'s worker."""
        assert request.raw is not None
        io = self.io
        sock = io.sock
        data = request.raw + self._pending
        if not self.handoff.send(slot, sock.fileno(), self.server.handoff_index, data, self.address):
            return False
        self._taken = True
        self._pending = b""
        io.release()
        sock.close()  # the other worker has its own descriptor of the connection
        request.body.detach()
        return True

    def _serve(self, request: Request) -> bool:
        """Run the app for one request and send its answer; True to keep the connection."""
        body = request.body
        if body.error is not None:
            self._refuse(RequestRefused(body.error.status, str(body.error)))
            return False
        handoff = self.handoff
        if handoff is not None:
            if self._handed:
                self._handed = False  # the worker that read it found it is ours
            elif request.raw is not None and not self.queue and not body.received:
                owner = handoff.owner(request.environ["PATH_INFO"])
                if owner is not None:
                    if self._hand_off(request, owner[0]):
                        return False
                    if owner[1] not in SENDING_TRANSPORTS:  # (a send to a gone session is 404 anywhere)
                        self._refuse(RequestRefused(503, "The worker holding this session did not answer; try again."))
                        return False
        self.request = request
        self._continue_sent = False
        response = self.response
        response.reset(request.http11, request.head, not request.keep_alive or self.server.draining)
        environ = request.environ
        result = None
        try:
            result = self.app(environ, response.start_response)
            if self._taken:
                pass  # the app writes the rest itself (or has nothing more to write)
            elif type(result) is list and len(result) < 2:
                response.send_complete(result[0] if result else b"")
            else:
                iterate(result, response)
        except BodyError as exc:
            return self._body_failed(exc)
        except (Closed, DeadlinePassed, ConnectionError):
            log.debug(
                "client %s went away during %s %s",
                environ.get("REMOTE_ADDR"),
                environ.get("REQUEST_METHOD"),
                environ.get("RAW_URI"),
            )
            return False
        except Exception:
            log.exception(
                "error in the WSGI app answering %s %s", environ.get("REQUEST_METHOD"), environ.get("RAW_URI")
            )
            if not response.head_sent and not self._taken:
                self._send_error(500, "Internal Server Error", "The server failed to answer this request.")
            return False
        finally:
            if result is not None and type(result) is not list and hasattr(result, "close"):
                try:
                    result.close()
                except Exception:
                    log.exception("error closing the WSGI app's iterable")
            body.detach()
            self.request = None
        if self._taken or response.upgraded:
            return False
        access_log = self.access_log
        if access_log is not None:
            access_log.log(environ, response.code, response.sent)
        if body.complete:
            return not response.close
        if not response.close and self._drain(request):
            return True
        if not body.complete:
            self._linger()  # let the client finish sending, so it reads our answer
        return False

    def _body_failed(self, exc: BodyError) -> bool:
        environ = self.request.environ if self.request is not None else {}
        if isinstance(exc, ClientDisconnected):
            log.debug(
                "client %s closed during the body of %s %s",
                environ.get("REMOTE_ADDR"),
                environ.get("REQUEST_METHOD"),
                environ.get("RAW_URI"),
            )
            return False
        if not self.response.head_sent and exc.status:
            self._refuse(RequestRefused(exc.status, str(exc)))
        else:
            log.info("%s from %s: %s", type(exc).__name__, environ.get("REMOTE_ADDR"), exc)
        return False

    # -- the body --------------------------------------------------------------------

    def pull(self, body: RequestBody) -> None:
        """Read more of ``body`` from the socket (the app wants it); raises BodyError."""
        if self._stop_reading:
            raise ClientDisconnected("the connection ended before the body did")
        request = self.request
        if request is not None and request.expect_continue and not self._continue_sent:
            self._continue_sent = True
            if not self.response.head_sent:
                self.response.send_continue()
        io = self.io
        limits = self.limits
        if body.started is None:
            body.started = io.now()
        deadline = None
        if limits.body_timeout is not None:
            deadline = body.started + limits.body_timeout
            if limits.body_min_rate:
                deadline += body.received / limits.body_min_rate
        drain_deadline = self._drain_deadline
        if drain_deadline is not None and (deadline is None or drain_deadline < deadline):
            deadline = drain_deadline
        if self._pending:
            data = self._pending
            self._pending = b""
        else:
            try:
                data = io.recv(deadline)
            except DeadlinePassed:
                self._stop_reading = True
                raise BodyTimeout("the request body did not arrive in time") from None
            if not data:
                self._stop_reading = True
                raise ClientDisconnected("the client closed the connection before the end of the body")
        if self.handoff is None:
            self._feed(data)
        else:
            self._feed_split(data)

    def read_upgraded(self) -> bytes:
        """After a 101: the next bytes of the new protocol (for apps that read them via wsgi.input)."""
        if not self.response.upgraded or self._taken:
            return b""
        return self.io.recv(None)

    def _drain(self, request: Request) -> bool:
        """Read away the rest of a body the app left, so the connection can serve the next request."""
        body = request.body
        if request.expect_continue and not self._continue_sent:
            return False  # the client may still be waiting to send it
        length = request.environ.get("CONTENT_LENGTH")
        if length and int(length) - body.received > self.limits.max_drain_size:
            return False
        body.discard_from(self)
        start = body.received
        # What the app left must come at once: linger_timeout, not the body's own deadline.
        self._drain_deadline = self.io.now() + self.limits.linger_timeout
        try:
            while not body.complete:
                if body.received - start > self.limits.max_drain_size:
                    return False
                self.pull(body)
                if body.error is not None:
                    return False
        except BodyError:
            return False
        finally:
            self._drain_deadline = None
            body.detach()
        return True

    # -- refusing --------------------------------------------------------------------

    def _refuse(self, refused: RequestRefused) -> None:
        """Answer a request the server will not give the app, and close."""
        log.info(
            "%d %s from %s: %s",
            refused.code,
            REASONS.get(refused.code, ""),
            self.template["REMOTE_ADDR"],
            refused.message,
        )
        self._send_error(refused.code, REASONS.get(refused.code, "Error"), refused.message)

    def _send_error(self, code: int, reason: str, message: str) -> None:
        io = self.io
        try:
            io.send(error_response(code, reason, message), self.limits.write_timeout)
        except (Closed, DeadlinePassed):
            return
        self._linger()

    def _linger(self) -> None:
        """Half-close, and read away what the client still sends for a moment.

        Closing a socket with unread input resets the connection, and the
        reset can reach the client before it read our answer.
        """
        io = self.io
        io.shutdown_write()
        deadline = io.now() + self.limits.linger_timeout
        try:
            while io.recv(deadline):
                pass
        except DeadlinePassed:
            return

    # -- handing the socket over -----------------------------------------------------

    def lend_socket(self) -> LentSocket | None:
        """Lend the socket for the rest of the current answer (see ``lent``); None if it cannot be.

        It can once the head of a chunked (or HTTP/1.0, until-close) answer
        is out, over plain TCP, with the request body read and nothing of a
        next request read yet: the socket then holds no state but the
        kernel's, and a new connection greenlet can take over from it.
        """
        response = self.response
        request = self.request
        if (
            self._taken
            or request is None
            or not response.head_sent
            or response.mode not in (CHUNKED, UNTIL_CLOSE)
            or isinstance(self.io, TlsIO)
            or self.queue
            or self._in_head
            or self._stop_reading
            or not request.body.complete
            or self._pending
        ):
            return None
        chunked = response.mode == CHUNKED
        keep_alive = chunked and not response.close
        return LentSocket(self.take_socket(), chunked, keep_alive, self.limits.write_timeout, self.server, self.address)

    def take_socket(self) -> _socket.socket:
        """The socket, for good: this connection then neither reads, writes nor closes it."""
        self._check_takeable()
        self._taken = True
        self.response.close = True
        io = self.io
        io.release()
        return detach_socket(io.sock)

    def take_socket_with_head(self) -> TakenSocket:
        """The socket, for good, and the head of the current answer rendered but not sent (``take_head``).

        The caller sends the head first (an upgrade's 101 with the new
        protocol's first bytes, in one send). b"" if the head is out, or
        the app has not called ``start_response``.
        """
        self._check_takeable()
        response = self.response
        head = b"" if response.head_sent or response.status is None else response.take_head()
        return TakenSocket(self.take_socket(), head)

    def _check_takeable(self) -> None:
        if self._taken:
            raise RuntimeError("the socket was already taken")
        if isinstance(self.io, TlsIO):
            raise RuntimeError("a TLS connection cannot be handed over; read it through the request")

    # -- llhttp callbacks ------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._environ = self.template.copy()
        self._flags = 0
        self._url = b""
        self._head_size = 0
        self._head_fed = 0
        self._headers = 0
        self._in_head = True
        self._body = None

    def on_url(self, piece: bytes) -> None:
        url = self._url + piece if self._url else piece
        self._url = url
        if len(url) > self.limits.max_url_size:
            self._refused = RequestRefused(414, f"Request target longer than {self.limits.max_url_size} bytes.")
            raise _Abort()

    def on_header(self, name: bytes, value: bytes) -> None:
        count = self._headers = self._headers + 1
        size = self._head_size = self._head_size + len(name) + len(value) + 4
        limits = self.limits
        if count > limits.max_headers:
            self._refused = RequestRefused(431, f"More than {limits.max_headers} request headers.")
            raise _Abort()
        if size > limits.max_head_size:
            self._refused = RequestRefused(431, f"Request header block larger than {limits.max_head_size} bytes.")
            raise _Abort()
        max_field = limits.max_field_size
        if max_field is not None and len(name) + len(value) + 2 > max_field:
            self._refused = RequestRefused(431, f"A request header line longer than {max_field} bytes.")
            raise _Abort()
        key = header_key(name)
        if key is None:
            return
        text = value.decode("latin-1")
        if text[-1:] in (" ", "\t"):
            text = text.rstrip(" \t")
        environ = self._environ
        assert environ is not None  # (on_message_begin made it)
        old = environ.get(key)
        if old is None:
            environ[key] = text
            flag = _FLAGS.get(key)
            if flag:
                self._flags |= flag
        elif key == _HOST:
            self._refused = RequestRefused(400, "More than one Host header.")
            raise _Abort()
        else:
            environ[key] = old + ("; " if key == _COOKIE else ", ") + text

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_deadline = None
        parser = self.parser
        environ = self._environ
        assert environ is not None  # (on_message_begin made it)
        self._environ = None
        url = self._url
        self._url = b""
        version = parser.get_http_version()
        if version == "1.1":
            http11 = True
            environ["SERVER_PROTOCOL"] = "HTTP/1.1"
        elif version == "1.0":
            http11 = False
            environ["SERVER_PROTOCOL"] = "HTTP/1.0"
        else:
            self._refused = RequestRefused(505, f"HTTP/{version} is not supported; use HTTP/1.1.")
            raise _Abort()
        if self._head_size + len(url) > self.limits.max_head_size:
            self._refused = RequestRefused(431, f"Request header block larger than {self.limits.max_head_size} bytes.")
            raise _Abort()
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method) or method_name(raw_method)
        environ["REQUEST_METHOD"] = method
        # (The checks on the str: ``b"?" in url`` first tries b"?" as an
        # int, raising and clearing a TypeError inside, for every request.)
        target = environ["RAW_URI"] = url.decode("latin-1")
        if target[:1] == "/" and "?" not in target and "%" not in target and "#" not in target:
            environ["PATH_INFO"] = target
            environ["QUERY_STRING"] = ""
        else:
            environ["PATH_INFO"], environ["QUERY_STRING"] = split_target(url)
        flags = self._flags
        keep_alive = http11
        expect_continue = False
        has_body = False
        if flags != _HOST_SEEN:
            if http11 and not flags & _HOST_SEEN:
                self._refused = RequestRefused(400, "HTTP/1.1 requests need a Host header.")
                raise _Abort()
            if flags & _TE_SEEN:
                te = environ[_TE]
                if te.lower() != "chunked":
                    self._refused = RequestRefused(400, f"Transfer-Encoding {te!r} is not supported (only 'chunked').")
                    raise _Abort()
                if not http11:
                    self._refused = RequestRefused(400, "Transfer-Encoding is not allowed in HTTP/1.0.")
                    raise _Abort()
                has_body = True
            if flags & _CONNECTION_SEEN:
                tokens = environ[_CONNECTION].lower()
                if http11:
                    keep_alive = "close" not in tokens or "close" not in [t.strip() for t in tokens.split(",")]
                else:
                    keep_alive = "keep-alive" in tokens and "keep-alive" in [t.strip() for t in tokens.split(",")]
            if flags & _EXPECT_SEEN:
                expect = environ[_EXPECT]
                if expect.lower() != "100-continue":
                    self._refused = RequestRefused(417, f"Expectation {expect!r} is not supported.")
                    raise _Abort()
                expect_continue = http11
            if flags & _LENGTH_SEEN:
                length = environ["CONTENT_LENGTH"] = environ["CONTENT_LENGTH"].strip()
                max_body = self.limits.max_body_size
                if max_body is not None and int(length) > max_body:
                    self._refused = RequestRefused(413, f"Request body larger than {max_body} bytes.")
                    raise _Abort()
                has_body = has_body or length != "0"
        upgrade = parser.should_upgrade()
        if upgrade:
            if not http11:
                self._refused = RequestRefused(400, "Protocol upgrades need HTTP/1.1.")
                raise _Abort()
            # A declined upgrade ends the connection: what follows its head
            # may already be the other protocol.
            keep_alive = False
            body = self._upgrade_body = RequestBody(self)
        elif has_body:
            body = RequestBody(self)
            self._body_length = None if flags & _TE_SEEN else int(environ["CONTENT_LENGTH"])
        else:
            body = EMPTY_BODY  # nothing to read: one shared, always complete body
        environ["wsgi.input"] = body
        self.queue.append(Request(environ, body, keep_alive, method == "HEAD", http11, expect_continue))
        self._body = body

    def on_body(self, data: bytes) -> None:
        body = self._body
        assert body is not None  # (on_headers_complete set it)
        body.feed(data)
        max_body = self.limits.max_body_size
        if max_body is not None and body.received > max_body:
            self._refused = RequestRefused(413, f"Request body larger than {max_body} bytes.")
            raise _Abort()

    def on_message_complete(self) -> None:
        body = self._body
        if body is not None:
            body.complete = True
        self._body = None


def _parser_message(exc: HttpParserError) -> str:
    text = str(exc) or type(exc).__name__
    return f"Malformed request: {text}."
