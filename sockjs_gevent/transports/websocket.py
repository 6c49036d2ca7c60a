"""WebSocket transports: SockJS-framed (``/<server>/<session>/websocket``) and raw (``/websocket``).

A websocket session lives exactly as long as its socket: it is not in the
session registry. The request's greenlet reads; a second greenlet writes
what the handler sends, so ``conn.send`` never blocks on the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Union

import gevent
from gevent.event import Event

from .. import protocol
from ..protocol import PayloadError, decode_websocket_message
from ..responses import Environ, StartResponse
from ..session import Session
from ..wsengine import AnyWebSocket, accept, is_websocket

if TYPE_CHECKING:  # pragma: no cover
    from ..app import SockJS

BROKEN_JSON = (1007, "Broken JSON encoding.")


class WebSocketReceiver:
    """The writer side of a websocket session, as the session sees it."""

    __slots__ = ("wakeup",)

    def __init__(self) -> None:
        self.wakeup = Event()


def sockjs_websocket(service: "SockJS", session_id: str, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """GET /<server>/<session>/websocket: SockJS frames over RFC 6455."""
    return _serve(service, environ, start_response, raw=False)


def raw_websocket(service: "SockJS", environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """GET /websocket: one application message per WebSocket text message."""
    return _serve(service, environ, start_response, raw=True)


def _serve(service: "SockJS", environ: Environ, start_response: StartResponse, raw: bool) -> Iterable[bytes]:
    ws: Union[AnyWebSocket, Iterable[bytes]] = accept(environ, start_response, service.options.max_message_size)
    if not is_websocket(ws):
        service.stats.error("handshake")
        return ws  # the error answer
    session = service.open_session(None, environ, "rawwebsocket" if raw else "websocket", raw=raw)
    # Once closed (by anyone, e.g. as a slow consumer), the close frame has a
    # few seconds to get out before the connection is cut.
    session.on_close(lambda _: ws.hang_up_later())
    writer = gevent.spawn(_write_loop, session, ws, service.options.heartbeat_delay, raw)
    try:
        _read_loop(session, ws, raw)
    finally:
        if not session.closed:  # the client closed or vanished
            session.close(ws.close_code or 1000, ws.close_reason or "")
        writer.join()
        ws.finish()
    return iter(())  # the 101 is sent; nothing more for pywsgi to write


def _read_loop(session: Session, ws: AnyWebSocket, raw: bool) -> None:
    deliver = session.deliver
    while True:
        text = ws.receive()
        if text is None:
            return
        if raw:
            deliver([text])
            continue
        try:
            messages = decode_websocket_message(text)
        except PayloadError:
            session.close(*BROKEN_JSON)
            return
        if messages:
            deliver(messages)


def _write_loop(session: Session, ws: AnyWebSocket, heartbeat_delay: float, raw: bool) -> None:
    receiver = WebSocketReceiver()
    wakeup = receiver.wakeup
    session.attach(receiver)
    try:
        while True:
            frames = session.take_messages() if raw else session.take_frames()
            if frames:
                if not ws.send_many(frames):
                    return
                if not raw and session.closed:
                    ws.close(BROKEN_JSON[0] if session.close_code == BROKEN_JSON[0] else 1000, "")
                    return
                continue
            if raw and session.closed:
                ws.close(session.close_code, session.close_reason)
                return
            wakeup.clear()
            if not wakeup.wait(heartbeat_delay):
                ok = ws.ping() if raw else ws.send(protocol.HEARTBEAT_FRAME)
                if not ok:
                    return
    finally:
        session.detach(receiver)

