"""The multiplexer: a SockJS handler that runs one handler per stream.

    mux = Multiplexer({"chat": chat, "ticker": ticker})
    app = SockJS(mux, "/mux")

For each SockJS session it reads the shared connection in its own greenlet
(the session's handler greenlet) and dispatches: ``sub,NAME`` starts the
handler of NAME in a greenlet of its own, ``msg,NAME,TEXT`` goes to that
stream's inbox, ``uns,NAME`` closes it. It never blocks on a stream, so one
slow stream handler cannot hold up the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import gevent

from ..callables import check_handler
from ..connection import Connection
from ..session import NORMAL_CLOSURE
from .framing import MSG, SUB, FramingError, encode_uns, parse, wire_name
from .stream import UNSUBSCRIBED, Stream

log = logging.getLogger("sockjs_gevent.multiplex")

StreamHandler = Callable[[Stream], Any]

#: Streams whose handlers may run at once in one session, unless told otherwise.
DEFAULT_MAX_STREAMS = 16


class Multiplexer:
    """Many named streams over one SockJS connection; itself a SockJS handler.

    ``streams`` maps a name to the handler of that stream, a function of
    one ``Stream`` written like a connection handler; more can be added
    with ``add(name, handler)`` or the ``@mux.stream(name)`` decorator.
    A page opens stream ``name`` with websocket-multiplex's
    ``multiplexer.channel(name)``.

    ``max_streams`` bounds the stream handlers that may run at once in one
    session, those closed but not yet returned included: past it a
    ``sub`` is answered ``uns`` (and counted as ``multiplex_limit``), so a
    client cannot start unlimited greenlets by subscribing and
    unsubscribing.
    """

    def __init__(
        self, streams: Mapping[str, StreamHandler] | None = None, *, max_streams: int = DEFAULT_MAX_STREAMS
    ) -> None:
        if not isinstance(max_streams, int) or isinstance(max_streams, bool) or max_streams < 1:
            raise ValueError(f"max_streams must be an int >= 1, got {max_streams!r}")
        self.max_streams = max_streams
        self._handlers: dict[str, tuple[str, StreamHandler]] = {}  # wire name -> (name, handler)
        for name, handler in (streams or {}).items():
            self.add(name, handler)

    def add(self, name: str, handler: StreamHandler) -> None:
        """Serve stream ``name`` with ``handler(stream)``."""
        check_handler(handler, "stream handler")
        wire = wire_name(name)
        if wire in self._handlers:
            raise ValueError(f"stream {name!r} already has a handler ({self._handlers[wire][1]!r})")
        self._handlers[wire] = (name, handler)

    def stream(self, name: str) -> Callable[[StreamHandler], StreamHandler]:
        """Decorator: ``@mux.stream("chat")`` makes the function the handler of stream ``chat``."""

        def decorator(handler: StreamHandler) -> StreamHandler:
            self.add(name, handler)
            return handler

        return decorator

    @property
    def names(self) -> list[str]:
        """The names of the streams it serves, in the order they were added."""
        return [name for name, _ in self._handlers.values()]

    def handler_for(self, wire: str) -> tuple[str, StreamHandler] | None:
        """(name, handler) of the stream a client asks for by its wire name, or None."""
        return self._handlers.get(wire)

    def __call__(self, conn: Connection) -> None:
        """The SockJS handler: serve one session's streams until it closes."""
        _Streams(self, conn).serve()

    def __repr__(self) -> str:
        return f"<Multiplexer {self.names!r}>"


class _Streams:
    """The streams of one session, and the loop that feeds them."""

    __slots__ = ("mux", "conn", "open", "running", "_stats", "_max_inbox_bytes", "_warned_limit")

    def __init__(self, mux: Multiplexer, conn: Connection) -> None:
        self.mux = mux
        self.conn = conn
        #: Open streams by wire name: where messages go.
        self.open: dict[str, Stream] = {}
        #: Streams whose handlers have not returned (what max_streams bounds).
        self.running: dict[Stream, gevent.Greenlet] = {}
        self._stats = conn.service_stats
        self._max_inbox_bytes = conn.max_inbox_bytes
        self._warned_limit = False

    def serve(self) -> None:
        try:
            for message in self.conn:
                self.dispatch(message)
            # The connection closed: every stream closes with its code. What
            # arrived before the close has been dispatched above.
            self.close_all(tell_client=False)
            # The session's handler lasts until every stream handler has
            # returned, so a server shutdown waits for them too.
            gevent.joinall(list(self.running.values()))
        finally:
            if self.running:  # killed (shutdown past its grace) or failed
                self.close_all(tell_client=not self.conn.closed)
                gevent.killall(list(self.running.values()), block=False)

    def dispatch(self, message: str) -> None:
        try:
            kind, wire, payload = parse(message)
        except FramingError as exc:
            self._stats.error("multiplex_malformed")
            log.debug(
                "dropped a malformed multiplex message: %s (transport=%s remote=%s)",
                exc,
                self.conn.transport,
                self.conn.remote_addr,
            )
            return
        if kind == MSG:
            assert payload is not None  # (parse gives every msg one)
            stream = self.open.get(wire)
            if stream is not None:
                stream._deliver(payload)
            else:
                self._not_open(kind, wire)
        elif kind == SUB:
            self.subscribe(wire)
        else:
            stream = self.open.get(wire)
            if stream is not None:
                stream._close(*UNSUBSCRIBED, tell_client=False)
            else:
                self._not_open(kind, wire)

    def subscribe(self, wire: str) -> None:
        if wire in self.open:
            # multiplex_client.js sends sub again when channel(name) is
            # called twice, and routes by name: the open stream serves the
            # new channel object. The reference server ignores it too.
            log.debug("sub of stream %r, which is already open: ignored", wire)
            return
        if self.conn.closed:
            return  # the session ended after this arrived: nothing new starts
        found = self.mux.handler_for(wire)
        if found is None:
            self._stats.error("multiplex_unknown")
            log.debug(
                "sub of unknown stream %r answered uns (transport=%s remote=%s)",
                wire,
                self.conn.transport,
                self.conn.remote_addr,
            )
            self.conn.send(encode_uns(wire))
            return
        if len(self.running) >= self.mux.max_streams:
            self._stats.error("multiplex_limit")
            if not self._warned_limit:
                self._warned_limit = True
                log.warning(
                    "refusing stream %r: %d stream handlers already run in this session (max_streams; "
                    "transport=%s remote=%s)",
                    wire,
                    len(self.running),
                    self.conn.transport,
                    self.conn.remote_addr,
                )
            self.conn.send(encode_uns(wire))
            return
        name, handler = found
        stream = Stream(self, name, wire, self._max_inbox_bytes)
        self.open[wire] = stream
        self.running[stream] = stream._start(handler)

    def _not_open(self, kind: str, wire: str) -> None:
        # A msg or uns for a stream that is not open. For a known name this
        # happens in normal use (the client sent it before our uns reached
        # it) and the client has already forgotten the stream: answering uns
        # could close a channel it has opened again since. Unknown names
        # were answered uns at their sub; they are counted here.
        if self.mux.handler_for(wire) is None:
            self._stats.error("multiplex_unknown")
        log.debug("%s for stream %r, which is not open: dropped", kind, wire)

    def close_all(self, tell_client: bool) -> None:
        code = self.conn.close_code or NORMAL_CLOSURE[0]
        reason = self.conn.close_reason or NORMAL_CLOSURE[1]
        for stream in list(self.open.values()):
            stream._close(code, reason, tell_client)

    # -- called by streams ------------------------------------------------------

    def closed(self, stream: Stream) -> None:
        """``stream`` closed: its name is free for a new ``sub``."""
        if self.open.get(stream.wire_name) is stream:
            del self.open[stream.wire_name]

    def finished(self, stream: Stream) -> None:
        """``stream``'s handler returned: its slot is free."""
        self.running.pop(stream, None)
