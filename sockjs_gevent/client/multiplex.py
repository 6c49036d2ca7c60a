"""websocket-multiplex over the network: many named streams on one ``ClientConnection``.

    from sockjs_gevent.client import connect_multiplex

    with connect_multiplex("http://127.0.0.1:8081/multiplex") as mux:
        echo = mux.subscribe("echo")
        echo.send("hi")
        print(echo.recv(timeout=5))      # "hi"

The client's side of ``sockjs_gevent.multiplex.Multiplexer`` (and of any
websocket-multiplex server), in the blocking style of ``connect``. One
reader greenlet reads the connection and sorts the messages into one queue
per stream, so each stream can be consumed by its own greenlet while the
others go on.

Bounds: a stream queues at most ``max_queued`` messages that nobody has
read. One more and the client gives the stream up: it sends ``uns,NAME``
(the server's stream handler sees the close), drops that message and what
follows for the stream, and the stream's reader gets the queued messages
and then ``StreamOverflowError``. The reader never blocks on a full
stream: that would hold up every other stream and would not slow the
server down (the transport keeps reading into the connection).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterator
from typing import Any

import gevent
from gevent.event import Event

from ..multiplex.framing import MSG, UNS, FramingError, encode_msg, encode_sub, encode_uns, parse, wire_name
from ..protocol import json_text
from ..waiting import ENDED, Ended, wait_for
from .connection import ClientConnection

__all__ = ["DEFAULT_MAX_QUEUED", "MultiplexConnection", "MultiplexStream", "StreamOverflowError", "connect_multiplex"]

log = logging.getLogger("sockjs_gevent.client.multiplex")

#: Unread messages a stream may hold before the client gives it up.
DEFAULT_MAX_QUEUED = 1024


class StreamOverflowError(ConnectionError):
    """The stream's reader fell more than ``max_queued`` messages behind: the client unsubscribed it.

    Raised by ``recv`` (and iteration) once the messages queued before the
    overflow have been read; the later ones were dropped.
    """


class MultiplexStream:
    """The client's end of one stream: ``send``, ``recv``, iteration, ``close``.

    ``recv()`` returns None once the stream is closed (by the server's
    ``uns``, by ``close()``, or with the whole connection), after the
    messages that arrived before; iterating yields messages until then.
    ``close_reason`` says why it closed.
    """

    def __init__(self, mux: MultiplexConnection, name: str, wire: str, max_queued: int) -> None:
        #: The name given to ``subscribe``.
        self.name = name
        #: The name on the wire (``wire_name(name)``: JavaScript's ``escape``).
        self.wire_name = wire
        #: Unread messages the stream may hold (see the module's docstring).
        self.max_queued = max_queued
        #: Why the stream closed ("" while it is open).
        self.close_reason = ""
        self._mux = mux
        self._queue: deque[str] = deque()
        self._ready = Event()  # a message came, or the stream closed
        self._ended = Event()
        self._overflowed = False

    @property
    def closed(self) -> bool:
        """True once the stream is closed, by either side or with its connection."""
        return self._ended.is_set()

    @property
    def queued(self) -> int:
        """Messages received and not yet read (at most ``max_queued``)."""
        return len(self._queue)

    def send(self, text: str) -> bool:
        """``msg,NAME,TEXT`` to the server (never blocks); False once the stream is closed."""
        message = encode_msg(self.wire_name, text)
        if self.closed:
            return False
        return self._mux.connection.send(message)

    def send_json(self, value: Any) -> bool:
        """``value`` as JSON text on this stream (what the stream handler's ``recv_json()`` decodes)."""
        return self.send(json_text(value))

    def recv(self, timeout: float | None = None) -> str | None:
        """The next message on this stream; None once it is closed and read to the end.

        Raises TimeoutError after ``timeout`` seconds with nothing to return,
        and StreamOverflowError at the end of a stream given up for falling
        behind.
        """
        item = wait_for(self._ready, self._take, timeout)
        if item is None:
            raise TimeoutError(f"no message on stream {self.name!r} within {timeout} s")
        if item is ENDED:
            if self._overflowed:
                raise StreamOverflowError(f"stream {self.name!r} {self.close_reason}")
            return None
        return item

    def recv_json(self, timeout: float | None = None) -> Any:
        """The next message decoded from JSON; None once closed.

        Raises ValueError for a message that is not JSON, the rest as ``recv``.
        """
        message = self.recv(timeout)
        return None if message is None else json.loads(message)

    def __iter__(self) -> Iterator[str]:
        while True:
            message = self.recv()
            if message is None:
                return
            yield message

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the stream is closed; False if ``timeout`` seconds passed first."""
        return self._ended.wait(timeout)

    def close(self) -> None:
        """Unsubscribe: ``uns,NAME`` (the server's stream handler sees the close); the other streams go on.

        Messages already received can still be read; then ``recv`` gives None.
        """
        if not self.closed:
            self._mux._unsubscribe(self, "closed by the client")

    def __enter__(self) -> MultiplexStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"closed: {self.close_reason}" if self.closed else f"open, {self.queued} queued"
        return f"<MultiplexStream {self.name!r} {state}>"

    # -- the reader's side ------------------------------------------------------

    def _take(self) -> str | Ended | None:
        if self._queue:
            return self._queue.popleft()
        return ENDED if self.closed else None

    def _deliver(self, payload: str) -> bool:
        """Queue a message; False (and the stream given up) if it holds ``max_queued`` already."""
        if len(self._queue) >= self.max_queued:
            self._overflowed = True
            self._mux._unsubscribe(self, f"overflowed: more than {self.max_queued} unread messages (max_queued)")
            return False
        self._queue.append(payload)
        self._ready.set()
        return True

    def _end(self, reason: str) -> None:
        if not self.closed:
            self.close_reason = reason
            self._ended.set()
            self._ready.set()


class MultiplexConnection:
    """Streams over one ``ClientConnection``, in the websocket-multiplex wire format.

    ``subscribe(name)`` opens a stream (``sub,NAME``). A reader greenlet
    reads the connection from then on: do not ``recv`` on the connection
    yourself. Messages for streams that are not open here are dropped and
    counted in ``dropped``; messages that are not multiplex frames, in
    ``malformed``. Closing the connection (either side) closes every stream.
    """

    def __init__(self, connection: ClientConnection, *, max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        if not isinstance(connection, ClientConnection):
            raise TypeError(_not_a_connection(connection))
        if isinstance(max_queued, bool) or not isinstance(max_queued, int) or max_queued < 1:
            raise ValueError(f"max_queued must be an int >= 1, got {max_queued!r}")
        #: The SockJS session the streams travel on (its ``close_code``, ``transport_name`` ...).
        self.connection = connection
        #: Unread messages each stream may hold.
        self.max_queued = max_queued
        #: Messages thrown away: for streams not open here, or past a stream's ``max_queued``.
        self.dropped = 0
        #: Messages from the server that were not ``msg,NAME,TEXT`` or ``uns,NAME``.
        self.malformed = 0
        self._streams: dict[str, MultiplexStream] = {}  # open streams by wire name
        self._reader = gevent.spawn(self._read)

    def subscribe(self, name: str) -> MultiplexStream:
        """``sub,NAME``: open stream ``name`` (escaped as the browser's client does).

        Returns at once; a name the server does not serve is answered
        ``uns``, which closes the stream. One stream per name at a time
        (ValueError otherwise). Once the connection is closed, the stream
        comes back closed.
        """
        wire = wire_name(name)
        if wire in self._streams:
            raise ValueError(f"stream {name!r} is already open on this connection: close it before subscribing again")
        stream = MultiplexStream(self, name, wire, self.max_queued)
        if self.closed:
            stream._end(self._closed_reason())
            return stream
        self._streams[wire] = stream
        self.connection.send(encode_sub(wire))
        return stream

    @property
    def streams(self) -> list[MultiplexStream]:
        """The open streams, in the order they were subscribed."""
        return list(self._streams.values())

    @property
    def closed(self) -> bool:
        return self.connection.closed

    def close(self, code: int = 1000, reason: str = "Normal closure") -> None:
        """Close the connection, and with it every stream (queued messages stay readable)."""
        self.connection.close(code, reason)
        self._end_all()

    def __enter__(self) -> MultiplexConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.closed:
            self.close()

    def __repr__(self) -> str:
        return f"<MultiplexConnection {self.connection!r} streams={[s.name for s in self._streams.values()]!r}>"

    # -- the reader -------------------------------------------------------------

    def _read(self) -> None:
        try:
            for message in self.connection:
                self._route(message)
        finally:
            if not self.connection.closed:  # the reader failed: nobody would read the connection
                self.connection.close()
            self._end_all()

    def _route(self, message: str) -> None:
        try:
            kind, wire, payload = parse(message)
        except FramingError as exc:
            self._malformed(str(exc))
            return
        if kind != MSG and kind != UNS:
            self._malformed(f"a server does not send {kind} ({message[:40]!r})")
            return
        stream = self._streams.get(wire)
        if stream is None:
            # Not open here: never subscribed, or closed (the server may have
            # sent this before our uns reached it). Like the browser, ignore it.
            if kind == MSG:
                self.dropped += 1
            return
        if kind == MSG:
            assert payload is not None  # (parse gives every msg one)
            if not stream._deliver(payload):
                self.dropped += 1
        else:
            del self._streams[wire]
            stream._end("unsubscribed by the server")

    def _malformed(self, why: str) -> None:
        self.malformed += 1
        log.debug("dropped a malformed multiplex message from %s: %s", self.connection.url, why)

    def _unsubscribe(self, stream: MultiplexStream, reason: str) -> None:
        if self._streams.get(stream.wire_name) is stream:
            del self._streams[stream.wire_name]
            self.connection.send(encode_uns(stream.wire_name))
        stream._end(reason)

    def _closed_reason(self) -> str:
        conn = self.connection
        return f"the connection closed ({conn.close_code} {conn.close_reason})"

    def _end_all(self) -> None:
        streams, self._streams = list(self._streams.values()), {}
        reason = self._closed_reason()
        for stream in streams:
            stream._end(reason)


def connect_multiplex(url: str, *, max_queued: int = DEFAULT_MAX_QUEUED, **options: Any) -> MultiplexConnection:
    """``connect(url, **options)`` to a multiplexed service, wrapped in a ``MultiplexConnection``.

    ``options`` are ``connect``'s (``transport``, ``timeout``, ``headers``, ...).
    """
    from . import connect

    return MultiplexConnection(connect(url, **options), max_queued=max_queued)


def _not_a_connection(obj: object) -> str:
    given = "a URL" if isinstance(obj, str) else f"{obj!r}"
    message = (
        f"MultiplexConnection takes a ClientConnection: MultiplexConnection(connect(url)), "
        f"or connect_multiplex(url); got {given}"
    )
    if type(obj).__name__ in ("SockJS", "HandlerClient", "Multiplexer"):
        message += (
            ". To test a multiplexed service in-process, without a server, use "
            "sockjs_gevent.multiplex.testing.MultiplexClient"
        )
    return message
