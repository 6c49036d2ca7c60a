"""The request that writes a session's frames to an HTTP client.

Streaming and polling transports differ only in framing and in when the
response ends; waiting for frames, heartbeats, the 2010 rule and noticing
a vanished client live here once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from .. import protocol
from ..http.lent import LentSocket
from ..peerwatch import TAKE_SOCKET_KEY, PeerWatch, find_socket
from ..responses import NO_CACHE, Environ, Headers, StartResponse, cors, error, respond
from ..session import ANOTHER_CONNECTION, Session
from ..waiting import wait_for
from .base import CallbackError, ReceivingTransport
from .lentstream import StreamLink
from .outlets import GreenletOutlet
from .service import Service


class _Gone(enum.Enum):
    """The type of ``_GONE`` (an enum, so that ``x is _GONE`` narrows a type)."""

    GONE = "gone"


#: What wait_frame's take gives once its client hung up, or a new request took over.
_GONE: Final = _Gone.GONE


@dataclass(slots=True)
class Receiving:
    """One receiving request while it is answered: for which session, through which transport, how.

    What the steps of an answer share (waiting for frames, streaming,
    lending the socket), built once by ``receive``.
    """

    transport: ReceivingTransport
    session: Session
    #: Attached to the session while this request writes for it.
    outlet: GreenletOutlet
    #: The JSONP or htmlfile callback name (None for the other transports).
    callback: str | None
    environ: Environ
    start_response: StartResponse
    #: The answer's headers but Content-Type (``_start_stream`` adds what streaming needs).
    headers: Headers
    heartbeat_delay: float
    #: A streaming answer ends after this many body bytes (the client opens another).
    response_limit: int

    def frame(self, text: str) -> bytes:
        """A SockJS frame as this transport writes it."""
        return self.transport.frame(text, self.callback)

    def prelude(self) -> bytes:
        """What a streaming transport writes first."""
        return self.transport.prelude(self.callback)


def wait_frame(request: Receiving, peer: PeerWatch) -> str | None:
    """Block until there is a frame to write, and take it.

    Returns the next frame (``o``, ``a[...]``, the close frame), ``h``
    after ``heartbeat_delay`` of silence, or None if the client hung up.
    """
    session, outlet = request.session, request.outlet

    def take() -> str | _Gone | None:
        if session.outlet is not outlet:
            return _GONE  # let go of: its client hung up and a new request took over
        frame = session.take_frame()
        if frame is None and peer.gone():
            return _GONE
        return frame

    frame = wait_for(outlet.wakeup, take, request.heartbeat_delay)
    if frame is None:
        return protocol.HEARTBEAT_FRAME
    return None if frame is _GONE else frame


def receive(
    transport: ReceivingTransport,
    service: Service,
    session_id: str,
    environ: Environ,
    start_response: StartResponse,
) -> Iterable[bytes]:
    """Answer one receiving request of an HTTP transport."""
    try:
        callback = transport.callback(environ)
    except CallbackError as exc:
        service.stats.error("callback")
        return error(environ, start_response, 500, str(exc))
    session = service.sessions.get(session_id)
    if session is None:
        session = service.open_session(session_id, environ, transport.name)
    options = service.options
    headers = [*NO_CACHE, *transport.headers]
    if transport.cors:
        headers += cors(environ)

    _discard_body(environ)
    if not transport.streaming:
        # A frame ready now (the echo of a send, say) is answered at once,
        # with no outlet and no watch of the client (a libev watcher and a
        # system call or two) for an answer that never waits.
        text = session.take_frame_unattached()
        if text is not None:
            return respond(start_response, 200, headers, transport.frame(text, callback), transport.content_type)
    outlet = GreenletOutlet()
    request = Receiving(
        transport,
        session,
        outlet,
        callback,
        environ,
        start_response,
        headers,
        options.heartbeat_delay,
        options.response_limit,
    )
    if not session.attach(outlet):
        if not transport.streaming:
            return respond(start_response, 200, headers, request.frame(ANOTHER_CONNECTION), transport.content_type)
        _start_stream(request)
        return _refusal_stream(request)

    if transport.streaming:
        lend = _lender(environ)
        if lend is not None:
            return _lend_and_stream(request, lend)
    if not transport.streaming:
        # (Attached in place of a client that hung up: its frame may be ready.)
        text = session.take_frame()
        if text is not None:
            session.detach(outlet)
            return respond(start_response, 200, headers, request.frame(text), transport.content_type)
        peer = outlet.peer = PeerWatch(find_socket(environ), outlet.wakeup)
        try:
            text = wait_frame(request, peer)
        finally:
            session.detach(outlet)
            peer.stop()
        if text is None:
            session.abort()
            return respond(start_response, 200, headers, b"", transport.content_type)
        return respond(start_response, 200, headers, request.frame(text), transport.content_type)

    peer = outlet.peer = PeerWatch(find_socket(environ), outlet.wakeup)
    try:
        _start_stream(request)
    except BaseException:
        session.detach(outlet)
        peer.stop()
        raise
    return _stream(request, peer)


def _start_stream(request: Receiving) -> Callable[[bytes], object]:
    """Start a streaming answer (no length: chunked, or ended by the close on HTTP/1.0); returns ``write``."""
    headers = request.headers
    if request.environ.get("SERVER_PROTOCOL") == "HTTP/1.0":
        headers.append(("Connection", "close"))  # no chunking: the close ends the body
    # nginx buffers proxied answers by default (proxy_buffering on): this
    # turns it off for this answer only, so each frame goes out when written.
    headers.append(("X-Accel-Buffering", "no"))
    return request.start_response("200 OK", [("Content-Type", request.transport.content_type), *headers])


def _lender(environ: Environ) -> Callable[[], LentSocket | None] | None:
    """How the server lends the socket for the rest of an answer (sockjs_gevent's own server), or None."""
    return getattr(environ.get(TAKE_SOCKET_KEY), "lend", None)


def _lend_and_stream(request: Receiving, lend: Callable[[], LentSocket | None]) -> Iterable[bytes]:
    """A streaming answer whose frames are written from the event loop (``transports.lentstream``).

    The head and the prelude go out from this greenlet, in one send; then
    the socket is borrowed and this greenlet ends. If the server cannot
    lend it (TLS, a pipelined request read already), this greenlet writes
    the rest as it would have.
    """
    session, outlet = request.session, request.outlet
    try:
        write = _start_stream(request)
        write(request.prelude())
        lent = lend()
    except BaseException:
        session.detach(outlet)
        session.abort()  # (as when the greenlet's own stream fails)
        raise
    if lent is None:
        peer = PeerWatch(find_socket(request.environ), outlet.wakeup)
        return _stream(request, peer, prelude_sent=True)
    link = StreamLink(session, lent, request.transport.frame, request.callback, request.response_limit)
    session.handover(outlet, link)
    link.start(request.heartbeat_delay)
    return []


def _refusal_stream(request: Receiving) -> Iterator[bytes]:
    """The 2010 answer of a streaming transport: the prelude, then the close frame, one write each."""
    yield request.prelude()
    yield request.frame(ANOTHER_CONNECTION)


def _discard_body(environ: Environ, limit: int = 65536) -> None:
    """Read away a receiving request's (normally empty) body.

    Unread bytes would keep the socket readable, which the hang-up watch
    would take for a pipelined request and stop watching.
    """
    if environ.get("REQUEST_METHOD") != "POST" or (
        environ.get("CONTENT_LENGTH") in (None, "", "0") and "HTTP_TRANSFER_ENCODING" not in environ
    ):
        return  # no body (the common case: not worth a read)
    stream = environ.get("wsgi.input")
    if stream is not None:
        try:
            stream.read(limit)
        except (OSError, ValueError):
            pass


def _stream(request: Receiving, peer: PeerWatch, prelude_sent: bool = False) -> Iterator[bytes]:
    """The body of a streaming answer: the prelude, then one frame per write.

    Every yield is one write (one chunk on HTTP/1.1), so clients and proxies
    that read frame by frame see exactly one unit each. Frames are taken
    one at a time, so none is taken from the session and then left unsent
    when the response limit ends the answer. After each write an empty
    item: servers skip it, and the loop variable then stops holding the
    last chunk (the 2 KiB prelude, or a big message) while the stream waits.
    """
    session, outlet = request.session, request.outlet
    finished = False
    try:
        if not prelude_sent:
            chunk = request.prelude()
            yield chunk
            chunk = b""
            yield b""
        sent = 0
        limit = request.response_limit
        while True:
            text = wait_frame(request, peer)
            if text is None:
                return  # the client hung up: abort below
            chunk = request.frame(text)
            sent += len(chunk)
            yield chunk
            chunk = b""
            yield b""
            if text[0] == "c" or sent >= limit:
                break  # the close frame is out, or the client opens a new request for the rest
        finished = True
    finally:
        session.detach(outlet)
        peer.stop()
        if not finished:
            session.abort()
