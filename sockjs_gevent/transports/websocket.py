"""WebSocket transports: SockJS-framed (``/<server>/<session>/websocket``) and raw (``/websocket``).

A websocket session lives exactly as long as its socket: it is not in the
session registry. One ``WebSocketLink`` per session joins it to its
socket, both ways, with no greenlet of its own: it is the session's
outlet (when the handler sends, it schedules one event-loop callback
that frames everything queued by then and writes it without blocking),
it takes what the socket reads (messages into the inbox, pausing the
socket while the handler is behind), and it ends the session when the
socket ends. A shared wheel sends heartbeats (``transports.heartbeats``).
Under sockjs_gevent's own servers the socket is read from the event loop
and the request's greenlet ends at once; elsewhere that greenlet reads
until the end.
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import inbox, protocol
from ..budget import BUDGET
from ..compression import Compression
from ..protocol import PayloadError, decode_websocket_message
from ..responses import Environ, StartResponse
from ..session import HANDLER_FAILED, INTERRUPTED, Session
from ..websocket import PAUSED_FOR_BUDGET, PAUSED_FOR_INBOX, AnyWebSocket, EventLoopWebSocket, accept
from ..websocket.base import EngineWebSocket
from .base import SessionRoute
from .heartbeats import HeartbeatWheel, wheel
from .outlets import LoopOutlet
from .service import Service

#: How a session ends on a message that is not JSON (then the connection drops).
BROKEN_JSON_CLOSE = (1007, protocol.BROKEN_JSON)
#: One websocket message holding more messages than the whole inbox may.
TOO_MANY_MESSAGES = (1009, "Message too big: more than the inbox holds")
#: The reason a session gets when the client's Close frame has a code but no reason: the
#: code's name in RFC 6455 section 7.4.1 (1012-1014: the IANA registry), worded as the
#: library words its own reasons (1000 "Normal closure", 1011 "Internal error"). 1005 is
#: a Close frame with no code at all (RFC 6455 section 7.1.5). Application codes
#: (3000-4999) have no name: their reason stays "".
CLOSE_CODE_NAMES = {
    1000: "Normal closure",
    1001: "Going away",
    1002: "Protocol error",
    1003: "Unsupported data",
    1005: "No status received",
    1007: "Invalid frame payload data",
    1008: "Policy violation",
    1009: "Message too big",
    1010: "Mandatory extension",
    1011: "Internal error",
    1012: "Service restart",
    1013: "Try again later",
    1014: "Bad gateway",
}


def client_close(code: int, reason: str) -> tuple[int, str]:
    """How a session ends on the client's Close frame: its code (a plain int) and reason, else the code's name."""
    code = int(code)  # (the websocket library's enum members for the codes it knows)
    return code, reason or CLOSE_CODE_NAMES.get(code, "")


class WebSocketLink(LoopOutlet):
    """Joins one session to its websocket: frames out, messages in, the end of either."""

    __slots__ = ("session", "ws", "raw", "_send_counted", "_max_queued", "_max_inbox", "wheel")

    def __init__(self, session: Session, ws: AnyWebSocket, raw: bool) -> None:
        super().__init__()
        self.session = session
        self.ws = ws
        self.raw = raw  # raw websocket: no SockJS framing either way
        # Sends that tell what is left buffered in the same call (sockjs_gevent's own websockets).
        self._send_counted = ws.send_counted if isinstance(ws, EngineWebSocket) else None
        # The session's limits, fixed as it was made (read once per message otherwise).
        self._max_queued = session.max_queued_bytes
        self._max_inbox = session.max_inbox_bytes
        #: The heartbeat wheel holding this link (``join_wheel``), until it ends.
        self.wheel: HeartbeatWheel | None = None

    # -- frames out --------------------------------------------------------------

    def push(self) -> None:
        """Write every frame ready now; close the websocket after the close frame."""
        self._scheduled = False
        if self.done:
            return
        session, ws = self.session, self.ws
        frames = session.take_messages() if self.raw else session.take_frames()
        if frames:
            self.last_write = self._loop.now()
            send_counted = self._send_counted
            if send_counted is not None:
                buffered = send_counted(frames)
                if buffered < 0:
                    self.done = True
                    return
            elif ws.send_many(frames):
                buffered = ws.buffered
            else:
                self.done = True
                return
            if buffered > self._max_queued:
                session.overflow()  # the client is not reading: it is closed, below
        if session.close_frame is not None:  # (session.closed: the frame is set as it starts closing)
            if self.raw:
                ws.close(session.close_code, session.close_reason)
            elif session.close_code == BROKEN_JSON_CLOSE[0]:
                ws.abort()  # docs/protocol.md 6.1: the c[1007,...] frame, then the TCP connection drops
            else:
                ws.close(1000, "")
            self.done = True

    def heartbeat(self) -> None:
        """Silent for heartbeat_delay: ``h`` (a ping on the raw websocket)."""
        self.last_write = self._loop.now()
        ok = self.ws.ping() if self.raw else self.ws.send(protocol.HEARTBEAT_FRAME)
        if not ok:
            self.done = True

    # -- messages in ---------------------------------------------------------------

    def on_message(self, text: str) -> None:
        """One text message from the client (never blocks): into the inbox.

        When the handler falls behind, reading stops until it catches up.
        """
        if self.raw:
            messages = [text]
        else:
            try:
                messages = decode_websocket_message(text)
            except PayloadError:
                self.session.close(*BROKEN_JSON_CLOSE)
                return
            if not messages:
                return
        session = self.session
        amount = inbox.cost(messages)
        if amount > self._max_inbox:
            session.stats.error("inbox_full")
            session.close(*TOO_MANY_MESSAGES)
            return
        if session.deliver(messages, amount):  # the inbox is past its limit
            session.stats.error("inbox_full")
            self.ws.pause_reading(PAUSED_FOR_INBOX)
            session.on_inbox_room(self._resume)
        if BUDGET.over():  # the process holds too much for clients: this one waits too
            session.stats.error("over_budget")
            self.ws.pause_reading(PAUSED_FOR_BUDGET)
            BUDGET.on_room(self._resume_budget)

    def _resume(self) -> None:
        if self.ws is not None:
            self.ws.resume_reading(PAUSED_FOR_INBOX)

    def _resume_budget(self) -> None:
        if self.ws is not None:
            self.ws.resume_reading(PAUSED_FOR_BUDGET)

    def join_wheel(self, heartbeat_delay: float) -> None:
        """Get heartbeats from the process's wheel for ``heartbeat_delay`` (until ``on_end``)."""
        found = self.wheel = wheel(heartbeat_delay)
        found.add(self)

    # -- the end -------------------------------------------------------------------

    def on_end(self) -> None:
        """The socket is done (the client closed, vanished, or we cut it): end the session."""
        session, ws = self.session, self.ws
        if not session.closed:
            if ws.close_code is None:
                session.close(*INTERRUPTED)  # the socket ended with no close frame: the client vanished
            else:
                session.close(*client_close(ws.close_code, ws.close_reason))
        self.push()
        self.done = True
        session.detach(self)
        session.forget()
        # Out of the heartbeat wheel now: it would hold this link until its
        # slot came round (up to heartbeat_delay), one more object for
        # every full GC pass; and, should anything still hold the link,
        # it keeps neither the session nor its socket.
        found = self.wheel
        if found is not None:
            self.wheel = None
            found.remove(self)
        self.session = self.ws = None  # type: ignore[assignment]
        if isinstance(ws, EventLoopWebSocket):
            ws.release()
        else:
            ws.finish()


def sockjs_websocket(
    service: Service, session_id: str, environ: Environ, start_response: StartResponse
) -> Iterable[bytes]:
    """GET /<server>/<session>/websocket: SockJS frames over RFC 6455."""
    return _serve(service, environ, start_response, raw=False)


#: GET /<server>/<session>/websocket (no cookie: the upgrade is one long connection). The raw
#: websocket (``/websocket``) is not a session URL: the app serves it with ``raw_websocket``.
ROUTES: tuple[SessionRoute, ...] = (SessionRoute("websocket", ("GET",), sockjs_websocket, http=False, websocket=True),)
NAMES: tuple[str, ...] = ("websocket", "raw-websocket")


def raw_websocket(service: Service, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """GET /websocket: one application message per WebSocket text message."""
    return _serve(service, environ, start_response, raw=True)


def _serve(service: Service, environ: Environ, start_response: StartResponse, raw: bool) -> Iterable[bytes]:
    options = service.options
    # Options stores websocket_compression normalised (None or a Compression); its field is typed as given.
    compression = options.websocket_compression
    handshake = accept(
        environ,
        start_response,
        options.max_message_size,
        compression if isinstance(compression, Compression) else None,
        hold_head=True,  # the 101 goes with the open frame, in one send (see send_head below)
    )
    ws = handshake.websocket
    if ws is None:
        service.stats.error("handshake")
        return handshake.answer
    if ws.compressed:
        service.stats.websocket_compressed += 1
    if getattr(service, "before_open", None) is not None:
        handshake.send_head()  # the hook may wait (a database): the 101 must not wait with it
    session: Session | None = None
    try:
        session = service.open_session(None, environ, "raw-websocket" if raw else "websocket", raw=raw)
        link = WebSocketLink(session, ws, raw)
        session.attach(link)
        link.push()  # the open frame (the 101 goes with it), and whatever the handler sent already
        handshake.send_head()  # the 101 alone, now, if nothing was written (a raw websocket has no open frame)
        link.join_wheel(service.options.heartbeat_delay)
        if isinstance(ws, EventLoopWebSocket):
            ws.start(link, handshake.pending)
            return handshake.answer  # read from the event loop; this request's greenlet ends now
    except BaseException:
        handshake.send_head()  # (the client sees the upgrade, then the cut)
        if session is not None:
            # A websocket session never expires: one that failed to start must
            # be closed here, or it would stay among the live sessions for good.
            session.close(*HANDLER_FAILED)
            ws.hang_up_later(0)
        raise
    try:
        while True:
            text = ws.next_message()
            if text is None:
                break
            link.on_message(text)
    finally:
        link.on_end()
    return handshake.answer
