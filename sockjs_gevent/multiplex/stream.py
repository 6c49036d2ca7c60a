"""One stream of a multiplexed connection, as its handler sees it.

A ``Stream`` has the API of a ``Connection`` (``recv``, iteration, ``send``,
``close``, ``closed``, ``id``, ``channel``, ``on_close``, the request facts)
and is a channel ``Member``, so a stream handler is written exactly like a
connection handler. What it sends goes out on the shared connection as
``msg,NAME,TEXT``; what the client sends to it waits in its own bounded
inbox.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import gevent

from .. import protocol
from ..connection import Connection, check_close
from ..inbox import Inbox, cost
from ..session import HANDLER_FAILED, NORMAL_CLOSURE, CloseCallbacks, State
from .framing import encode_msg, encode_uns

if TYPE_CHECKING:  # pragma: no cover
    from ..channels import Channel
    from ..stats import Stats
    from .multiplexer import _Streams

log = logging.getLogger("sockjs_gevent.multiplex")

#: The client sent ``uns,NAME``.
UNSUBSCRIBED = (1000, "Unsubscribed")
#: More arrived for the stream than its inbox holds: its handler is too far behind.
INBOX_FULL = (1008, "Inbox full: the stream handler is too far behind")


class Stream(CloseCallbacks):
    """One named stream of a multiplexed SockJS connection.

    ``recv()`` blocks until a message for this stream arrives and returns
    None once the stream is closed (by either side, or because the whole
    connection closed); iterating yields messages until then. ``send()``
    never blocks. Attributes of your own can be set on it.

    Its state moves like a session's (``sockjs_gevent.session.State``):
    CONNECTING (created) -> OPEN (handler running) -> CLOSING (closed;
    the handler sees the close) -> CLOSED (the handler returned).
    """

    __slots__ = (
        "name",
        "wire_name",
        "_conn",
        "_streams",
        "_inbox",
        "_close_code",
        "_close_reason",
        "_prefix",
        "_quoted_prefix",
        "_id",
        "__dict__",
        "__weakref__",
    )

    def __init__(self, streams: _Streams, name: str, wire_name: str, max_inbox_bytes: int) -> None:
        #: The name the stream was registered under (``Multiplexer({name: handler})``).
        self.name = name
        #: The name on the wire: what the browser's ``escape(name)`` gives.
        self.wire_name = wire_name
        self._streams = streams
        self._conn: Connection = streams.conn
        self._state = State.CONNECTING
        self._inbox = Inbox(max_inbox_bytes)
        self._close_code = 0
        self._close_reason = ""
        self._close_callbacks: list[Callable[[Stream], object]] | None = None
        self._prefix = encode_msg(wire_name, "")
        # The prefix is ASCII (a wire name is), so quote(prefix + text) is
        # quote(prefix) without its closing quote + quote(text) without its
        # opening one: a publish still quotes its text once for every member.
        self._quoted_prefix = protocol.quote(self._prefix)[:-1]
        self._id: str | None = None

    # -- the Connection API ---------------------------------------------------

    def send(self, message: str) -> bool:
        """Send one text message on this stream; False (and dropped) once closed.

        Raises ValueError for a message larger than the service's
        ``max_queued_bytes``, as ``Connection.send`` does: every stream
        shares the connection's outgoing queue.
        """
        if not isinstance(message, str):
            raise TypeError(f"SockJS messages are text: send() takes str, got {type(message).__name__}")
        if self._state >= State.CLOSING:
            return False
        return self._conn.send(self._prefix + message)

    def send_json(self, value: Any) -> bool:
        """Send ``value`` encoded as JSON text (``json.dumps``)."""
        return self.send(protocol.json_text(value))

    def send_quoted(self, message: str, quoted: str) -> bool:
        """Send a message already quoted by ``protocol.quote`` (what channels hand their members)."""
        if self._state >= State.CLOSING:
            return False
        return self._conn.send_quoted(self._prefix + message, self._quoted_prefix + quoted[1:])

    def recv(self, timeout: float | None = None) -> str | None:
        """Block for the next message on this stream; None once it is closed.

        Messages that arrived before the close are still returned first.
        With ``timeout`` (seconds), raise TimeoutError if nothing arrives.
        """
        return self._inbox.get(timeout)

    def recv_json(self, timeout: float | None = None) -> Any:
        """The next message decoded from JSON; None once closed."""
        message = self.recv(timeout)
        return None if message is None else json.loads(message)

    def __iter__(self) -> Iterator[str]:
        get = self._inbox.get
        while True:
            message = get()
            if message is None:
                return
            yield message

    def close(self, code: int = 1000, reason: str = "Normal closure") -> None:
        """Close this stream (the client's channel gets ``uns,NAME``); the others go on.

        ``code`` and ``reason`` are for the server side (``close_code``,
        logs): the wire format has no room for them, so the browser's
        channel only sees that it closed.
        """
        check_close(code, reason)
        self._close(code, reason, tell_client=True)

    @property
    def closed(self) -> bool:
        """True once the stream is closed, by either side or with its connection."""
        return self._state >= State.CLOSING

    @property
    def close_code(self) -> int | None:
        """Why it closed: 1000 (closed normally, or the client unsubscribed),
        1011 (the handler raised), 1008 (its inbox overflowed), or the
        connection's own code when the whole connection closed."""
        return self._close_code or None

    @property
    def close_reason(self) -> str:
        return self._close_reason

    @property
    def state(self) -> State:
        return self._state

    @property
    def id(self) -> str:
        """A random id of this stream (not the connection's); ``channels.send_to(id, text)`` reaches it."""
        if self._id is None:
            self._id = uuid.uuid4().hex
        return self._id

    def channel(self, name: str) -> Channel:
        """The pub/sub channel ``name`` of the service (see ``Connection.channel``)."""
        return self._conn.channel(name)

    @property
    def connection(self) -> Connection:
        """The SockJS connection this stream travels on (closing it closes every stream)."""
        return self._conn

    @property
    def transport(self) -> str:
        return self._conn.transport

    @property
    def remote_addr(self) -> str | None:
        return self._conn.remote_addr

    @property
    def path(self) -> str:
        """The path of the service (e.g. ``/mux``)."""
        return self._conn.path

    @property
    def headers(self) -> dict[str, str]:
        return self._conn.headers

    @property
    def cookies(self) -> dict[str, str]:
        return self._conn.cookies

    @property
    def environ(self) -> dict[str, Any]:
        return self._conn.environ

    @property
    def service_stats(self) -> Stats:
        return self._conn.service_stats

    @property
    def max_inbox_bytes(self) -> int:
        return self._inbox.limit

    def __repr__(self) -> str:
        return f"<Stream {self.name!r} over {self.transport} from {self.remote_addr} {self._state.name.lower()}>"

    # -- the multiplexer's side -----------------------------------------------

    def _move(self, state: State) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "stream %r %s -> %s (transport=%s remote=%s)",
                self.name,
                self._state.name,
                state.name,
                self.transport,
                self.remote_addr,
                extra=self.log_context(),
            )
        self._state = state

    def _start(self, handler: Callable[[Stream], object]) -> gevent.Greenlet:
        assert self._state is State.CONNECTING, self._state
        self._move(State.OPEN)
        return gevent.spawn(self._run, handler)

    def _run(self, handler: Callable[[Stream], object]) -> None:
        try:
            handler(self)
        except gevent.GreenletExit:
            self._close(*NORMAL_CLOSURE, tell_client=True)
        except Exception:
            self.service_stats.error("handler")
            log.exception(
                "stream handler %s of stream %r failed (transport=%s remote=%s); closing the stream",
                getattr(handler, "__qualname__", handler),
                self.name,
                self.transport,
                self.remote_addr,
                extra=self.log_context(),
            )
            self._close(*HANDLER_FAILED, tell_client=True)
        else:
            self._close(*NORMAL_CLOSURE, tell_client=True)
        finally:
            self._inbox.drop()  # nobody is left to read it
            self._move(State.CLOSED)
            self._streams.finished(self)

    def _deliver(self, payload: str) -> None:
        """A message from the client; closes the stream if its inbox has no room."""
        if self._state >= State.CLOSING:
            return
        amount = cost([payload])
        inbox = self._inbox
        if not inbox.has_room(amount):
            self.service_stats.error("multiplex_inbox_full")
            log.warning(
                "closing stream %r: its handler is more than max_inbox_bytes (%d) behind (transport=%s remote=%s)",
                self.name,
                inbox.limit,
                self.transport,
                self.remote_addr,
                extra=self.log_context(),
            )
            self._close(*INBOX_FULL, tell_client=True)
            return
        inbox.put_many([payload], amount)

    def _close(self, code: int, reason: str, tell_client: bool) -> None:
        if self._state >= State.CLOSING:
            return
        self._move(State.CLOSING)
        self._close_code = code
        self._close_reason = reason
        self._inbox.close()
        self._streams.closed(self)
        if tell_client:
            self._conn.send(encode_uns(self.wire_name))  # False if the connection is gone: nothing to tell
        self._run_close_callbacks()

    def log_context(self) -> dict[str, object]:
        """Fields for structured logs: transport, peer and stream name, never the session id."""
        return {"sockjs_transport": self.transport, "sockjs_remote_addr": self.remote_addr, "sockjs_stream": self.name}
