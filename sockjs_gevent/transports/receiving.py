"""The request that writes a session's frames to an HTTP client.

Streaming and polling transports differ only in framing and in when the
response ends; waiting for frames, heartbeats, the 2010 rule and noticing
a vanished client live here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from .. import protocol
from ..http.lent import LentSocket
from ..peerwatch import TAKE_SOCKET_KEY, PeerWatch, find_socket
from ..responses import NO_CACHE, Environ, StartResponse, cors, error, respond
from ..session import ANOTHER_CONNECTION, Session
from ..waiting import wait_for
from .base import CallbackError, ReceivingTransport
from .lentstream import StreamLink
from .outlets import GreenletOutlet
from .service import Service

_GONE = object()  # what wait_frame's take returns when the client hung up


def wait_frame(session: Session, outlet: GreenletOutlet, heartbeat_delay: float, peer: PeerWatch) -> str | None:
    """Block until there is a frame to write, and take it.

    Returns the next frame (``o``, ``a[...]``, the close frame), ``h``
    after ``heartbeat_delay`` of silence, or None if the client hung up.
    """

    def take() -> object:
        if session.outlet is not outlet:
            return _GONE  # let go of: its client hung up and a new request took over
        frame = session.take_frame()
        if frame is None and peer.gone():
            return _GONE
        return frame

    frame = wait_for(outlet.wakeup, take, heartbeat_delay)
    if frame is None:
        return protocol.HEARTBEAT_FRAME
    return None if frame is _GONE else frame  # type: ignore[return-value]


def receive(
    transport: ReceivingTransport,
    service: Service,
    session_id: str,
    environ: Environ,
    start_response: StartResponse,
) -> Iterator[bytes]:
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
    outlet = GreenletOutlet()
    if not session.attach(outlet):
        if not transport.streaming:
            body = transport.frame(ANOTHER_CONNECTION, callback)
            return respond(start_response, 200, headers, body, transport.content_type)
        _start_stream(environ, start_response, transport, headers)
        return _refusal_stream(transport, callback)

    if transport.streaming:
        lend = _lender(environ)
        if lend is not None:
            return _lend_and_stream(
                session, outlet, transport, callback, options, environ, start_response, headers, lend
            )
    peer = outlet.peer = PeerWatch(find_socket(environ), outlet.wakeup)
    if not transport.streaming:
        try:
            text = wait_frame(session, outlet, options.heartbeat_delay, peer)
        finally:
            session.detach(outlet)
            peer.stop()
        if text is None:
            session.abort()
            return respond(start_response, 200, headers, b"", transport.content_type)
        return respond(start_response, 200, headers, transport.frame(text, callback), transport.content_type)

    try:
        _start_stream(environ, start_response, transport, headers)
    except BaseException:
        session.detach(outlet)
        peer.stop()
        raise
    return _stream(session, outlet, transport, callback, peer, options)


def _start_stream(
    environ: Environ, start_response: StartResponse, transport: ReceivingTransport, headers: list
) -> Callable[[bytes], object]:
    """Start a streaming answer (no length: chunked, or ended by the close on HTTP/1.0); returns ``write``."""
    if environ.get("SERVER_PROTOCOL") == "HTTP/1.0":
        headers.append(("Connection", "close"))  # no chunking: the close ends the body
    # nginx buffers proxied answers by default (proxy_buffering on): this
    # turns it off for this answer only, so each frame goes out when written.
    headers.append(("X-Accel-Buffering", "no"))
    return start_response("200 OK", [("Content-Type", transport.content_type), *headers])


def _lender(environ: Environ) -> Callable[[], LentSocket | None] | None:
    """How the server lends the socket for the rest of an answer (sockjs_gevent's own server), or None."""
    return getattr(environ.get(TAKE_SOCKET_KEY), "lend", None)


def _lend_and_stream(
    session, outlet, transport, callback, options, environ, start_response, headers, lend
) -> Iterable[bytes]:
    """A streaming answer whose frames are written from the event loop (``transports.lentstream``).

    The head and the prelude go out from this greenlet, in one send; then
    the socket is borrowed and this greenlet ends. If the server cannot
    lend it (TLS, a pipelined request read already), this greenlet writes
    the rest as it would have.
    """
    try:
        write = _start_stream(environ, start_response, transport, headers)
        write(transport.prelude(callback))
        lent = lend()
    except BaseException:
        session.detach(outlet)
        session.abort()  # (as when the greenlet's own stream fails)
        raise
    if lent is None:
        peer = PeerWatch(find_socket(environ), outlet.wakeup)
        return _stream(session, outlet, transport, callback, peer, options, prelude_sent=True)
    link = StreamLink(session, lent, transport.frame, callback, options.response_limit)
    session.handover(outlet, link)
    link.start(options.heartbeat_delay)
    return []


def _refusal_stream(transport: ReceivingTransport, callback: str | None) -> Iterator[bytes]:
    """The 2010 answer of a streaming transport: the prelude, then the close frame, one write each."""
    yield transport.prelude(callback)
    yield transport.frame(ANOTHER_CONNECTION, callback)


def _discard_body(environ: Environ, limit: int = 65536) -> None:
    """Read away a receiving request's (normally empty) body.

    Unread bytes would keep the socket readable, which the hang-up watch
    would take for a pipelined request and stop watching.
    """
    stream = environ.get("wsgi.input")
    if stream is not None and environ.get("REQUEST_METHOD") == "POST":
        try:
            stream.read(limit)
        except (OSError, ValueError):
            pass


def _stream(session, outlet, transport, callback, peer, options, prelude_sent: bool = False) -> Iterator[bytes]:
    """The body of a streaming answer: the prelude, then one frame per write.

    Every yield is one write (one chunk on HTTP/1.1), so clients and proxies
    that read frame by frame see exactly one unit each. Frames are taken
    one at a time, so none is taken from the session and then left unsent
    when the response limit ends the answer. After each write an empty
    item: servers skip it, and the loop variable then stops holding the
    last chunk (the 2 KiB prelude, or a big message) while the stream waits.
    """
    finished = False
    frame = transport.frame
    try:
        if not prelude_sent:
            chunk = transport.prelude(callback)
            yield chunk
            chunk = b""
            yield b""
        sent = 0
        limit = options.response_limit
        heartbeat_delay = options.heartbeat_delay
        while True:
            text = wait_frame(session, outlet, heartbeat_delay, peer)
            if text is None:
                return  # the client hung up: abort below
            chunk = frame(text, callback)
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
