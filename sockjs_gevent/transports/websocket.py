"""WebSocket transports: SockJS-framed (``/<server>/<session>/websocket``) and raw (``/websocket``).

A websocket session lives exactly as long as its socket: it is not in the
session registry. Under sockjs_gevent's own server the socket is read from
the event loop and the request's greenlet ends at once (elsewhere that
greenlet reads until the end). Writing needs no greenlet either:
when the handler sends, the session wakes a ``WebSocketPusher``, which
schedules one event-loop callback that frames everything queued by then
and hands it to the socket without blocking; a libev timer sends the
heartbeat after ``heartbeat_delay`` of silence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Union

import gevent

from .. import inbox, protocol
from ..protocol import PayloadError, decode_websocket_message
from ..responses import Environ, StartResponse
from ..session import HANDLER_FAILED, INTERRUPTED, Session
from .base import SessionRoute
from ..wsengine import PAUSED_FOR_INBOX, AnyWebSocket, WebSocket, accept, is_websocket

if TYPE_CHECKING:  # pragma: no cover
    from ..app import SockJS

#: How a session ends on a message that is not JSON (then the connection drops).
BROKEN_JSON_CLOSE = (1007, protocol.BROKEN_JSON)
#: One websocket message holding more messages than the whole inbox may.
TOO_MANY_MESSAGES = (1009, "Message too big: more than the inbox holds")


class WebSocketPusher:
    """Writes a session's frames to its websocket from event-loop callbacks."""

    __slots__ = ("session", "ws", "raw", "_loop", "_scheduled", "_heartbeat", "_done")

    def __init__(self, session: Session, ws: AnyWebSocket, heartbeat_delay: float, raw: bool) -> None:
        self.session = session
        self.ws = ws
        self.raw = raw
        self._loop = gevent.get_hub().loop
        self._scheduled = False
        self._done = False
        # Repeats every heartbeat_delay; every write re-arms it (again()),
        # so it fires only after that much silence. One timer for the
        # session's life: no garbage per heartbeat.
        self._heartbeat = self._loop.timer(heartbeat_delay, heartbeat_delay)
        self._heartbeat.again(self._on_heartbeat_timer)

    def wake(self) -> None:
        """The session has something to write: push it once the handler yields."""
        if not self._scheduled and not self._done:
            self._scheduled = True
            self._loop.run_callback(self.push)

    def push(self) -> None:
        """Write every frame ready now; close the websocket after the close frame."""
        self._scheduled = False
        if self._done:
            return
        session, ws = self.session, self.ws
        frames = session.take_messages() if self.raw else session.take_frames()
        if frames:
            self._heartbeat.again(self._on_heartbeat_timer)
            if not ws.send_many(frames):
                self.stop()
                return
            if ws.buffered > session.max_queued_bytes:
                session.overflow()  # the client is not reading: it is closed, below
        if session.closed:
            if self.raw:
                ws.close(session.close_code, session.close_reason)
            elif session.close_code == BROKEN_JSON_CLOSE[0]:
                ws.abort()  # docs/protocol.md 6.1: the c[1007,...] frame, then the TCP connection drops
            else:
                ws.close(1000, "")
            self.stop()

    def _on_heartbeat_timer(self) -> None:
        ok = self.ws.ping() if self.raw else self.ws.send(protocol.HEARTBEAT_FRAME)
        if not ok:
            self.stop()

    def stop(self) -> None:
        """No more writes: the websocket is closing or gone."""
        if not self._done:
            self._done = True
            self._heartbeat.stop()
            self._heartbeat.close()


def sockjs_websocket(service: "SockJS", session_id: str, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """GET /<server>/<session>/websocket: SockJS frames over RFC 6455."""
    return _serve(service, environ, start_response, raw=False)


#: GET /<server>/<session>/websocket (no cookie: the upgrade is one long connection).
ROUTE = SessionRoute("websocket", ("GET",), sockjs_websocket, http=False, websocket=True)


def raw_websocket(service: "SockJS", environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """GET /websocket: one application message per WebSocket text message."""
    return _serve(service, environ, start_response, raw=True)


def _serve(service: "SockJS", environ: Environ, start_response: StartResponse, raw: bool) -> Iterable[bytes]:
    ws: Union[AnyWebSocket, Iterable[bytes]] = accept(environ, start_response, service.options.max_message_size)
    if not is_websocket(ws):
        service.stats.error("handshake")
        return ws  # the error answer
    session = service.open_session(None, environ, "raw-websocket" if raw else "websocket", raw=raw)
    try:
        # Once closed (by anyone, e.g. as a slow consumer), the close frame
        # has a few seconds to get out before the connection is cut.
        session.on_close(lambda _: ws.hang_up_later())
        pusher = WebSocketPusher(session, ws, service.options.heartbeat_delay, raw)
        session.attach(pusher)
        pusher.push()  # the open frame, and whatever the handler sent already
        on_message = _message_handler(session, ws, raw)
        owned = ws if isinstance(ws, WebSocket) and ws.owned else None
        if owned is not None:
            owned.start_reading(on_message, lambda: _end(session, ws, pusher, release=True))
    except BaseException:
        # A websocket session never expires: one that failed to start must
        # be closed here, or it would stay among the live sessions for good.
        session.close(*HANDLER_FAILED)
        ws.hang_up_later(0)
        raise
    if owned is not None:
        return iter(())  # read from the event loop; this request's greenlet ends now
    try:
        while True:
            text = ws.receive()
            if text is None:
                break
            on_message(text)
    finally:
        _end(session, ws, pusher)
    return iter(())  # the 101 is sent; nothing more for pywsgi to write


def _end(session: Session, ws: AnyWebSocket, pusher: WebSocketPusher, release: bool = False) -> None:
    """Reading has ended: close the session (the client left), flush, let go of the socket."""
    if not session.closed:
        if ws.close_code is None:
            session.close(*INTERRUPTED)  # the socket ended with no close frame: the client vanished
        else:
            session.close(ws.close_code, ws.close_reason)
    pusher.push()
    pusher.stop()
    session.detach(pusher)
    session.forget()
    if release:
        ws.release()  # type: ignore[union-attr]
    else:
        ws.finish()


def _message_handler(session: Session, ws: AnyWebSocket, raw: bool) -> Callable[[str], None]:
    """What to do with each text message from the client (never blocks).

    When the handler falls behind (its inbox is past ``max_inbox_bytes``),
    reading stops until it has caught up: TCP then pushes back on the client.
    """
    deliver = session.deliver

    def resume() -> None:
        ws.resume_reading(PAUSED_FOR_INBOX)

    def take(messages: list[str]) -> None:
        amount = inbox.cost(messages)
        if amount > session.max_inbox_bytes:
            session.stats.error("inbox_full")
            session.close(*TOO_MANY_MESSAGES)
            return
        deliver(messages, amount)
        if session.inbox_full:
            session.stats.error("inbox_full")
            ws.pause_reading(PAUSED_FOR_INBOX)
            session.on_inbox_room(resume)

    if raw:
        return lambda text: take([text])

    def sockjs_message(text: str) -> None:
        try:
            messages = decode_websocket_message(text)
        except PayloadError:
            session.close(*BROKEN_JSON_CLOSE)
            return
        if messages:
            take(messages)

    return sockjs_message
