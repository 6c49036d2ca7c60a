"""One SockJS session: inbox, outbox, close state, expiry, handler greenlet.

A session outlives the HTTP requests that carry it. Transports attach one
*outlet* at a time (what writes its frames to the client:
``transports.outlets``); the session wakes it when there is something to
write. Nothing here does I/O.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import gevent

from . import protocol
from .budget import BUDGET
from .inbox import Inbox
from .stats import Stats

if TYPE_CHECKING:  # pragma: no cover
    from gevent._types import _Loop, _TimerWatcher  # (the stubs' types of a loop and its timer)

    from .connection import Connection, ConnectionInfo

try:  # mypyc reads the decorator's arguments as it compiles; at run time it changes nothing
    from mypy_extensions import mypyc_attr
except ImportError:  # (mypy_extensions comes with mypy, which an install need not have)

    def mypyc_attr(*_: object, **__: object) -> Callable[[type], type]:  # type: ignore[misc]
        return lambda cls: cls


log = logging.getLogger("sockjs_gevent.session")
_quote = protocol.quote

#: Close frames with a fixed meaning in the protocol.
ANOTHER_CONNECTION = protocol.close_frame(2010, "Another connection still open")
INTERRUPTED = (1002, "Connection interrupted")
NORMAL_CLOSURE = (1000, "Normal closure")
HANDLER_FAILED = (1011, "Internal error")
SLOW_CONSUMER = (1008, "Slow consumer: too much data queued")
SERVER_BUSY = (1013, "Server busy: too many sessions")
OVER_BUDGET = (1013, "Server busy: too much client data held")


class State(enum.IntEnum):
    """Where a session is in its life; it only moves forward.

    CONNECTING: created, ``before_open`` deciding. OPEN: the handler runs
    (the client is owed ``o`` until a transport takes it). CLOSING: closed
    by either side; the handler sees the close, and the close frame is
    repeated to every request until the session is forgotten. CLOSED:
    forgotten (expired, or its websocket is gone). A refused session goes
    from CONNECTING straight to CLOSING: its client never sees ``o``.
    """

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


#: ``State.CLOSING`` as a module global: the hot paths compare with it (a
#: lookup on the enum class costs more than the comparison).
_CLOSING = State.CLOSING


class Outlet(Protocol):
    """What a transport attaches to a session: where its frames go out (``transports.outlets``).

    Defined here, by the side that calls it: the session knows this much of
    its transports and imports none of them.
    """

    def wake(self) -> None:
        """Called (never blocking) when there are frames to write."""


class SessionOwner(Protocol):
    """Who is told when a session closes (the service keeping its live set and counters)."""

    def session_closed(self, session: Session) -> None: ...


@mypyc_attr(allow_interpreted_subclasses=True)  # (a multiplexed Stream, interpreted, is one)
class CloseCallbacks:
    """``on_close`` for a session or a multiplexed stream: callbacks kept until it closes, then each run once.

    The class keeps ``_state`` (a ``State``) and a ``_close_callbacks`` slot
    (None until the first callback), and calls ``_run_close_callbacks()`` when
    it starts closing.
    """

    __slots__ = ("_close_callbacks", "_state")  # (here, not in a subclass: a compiled build keeps them here)
    _state: State
    _close_callbacks: list[Callable[[Any], object]] | None

    def on_close(self, callback: Callable[[Any], object]) -> None:
        """Call ``callback(self)`` once this closes (at once if it has).

        Callbacks may run in the event loop (a session's expiry), so they must not block.
        """
        if self._state >= _CLOSING:
            callback(self)
        elif self._close_callbacks is None:
            self._close_callbacks = [callback]
        else:
            self._close_callbacks.append(callback)

    def _run_close_callbacks(self) -> None:
        callbacks, self._close_callbacks = self._close_callbacks, None
        for callback in callbacks or ():
            try:
                callback(self)
            except Exception:
                log.exception("close callback %r of %r failed", callback, self)


class Session(CloseCallbacks):
    """State shared by the handler greenlet and the transports of one session."""

    __slots__ = (
        "info",
        "registry",
        "key",
        "outlet",
        "close_frame",
        "close_code",
        "close_reason",
        "_owes_open_frame",
        "_outbox",
        "_inbox",
        "_expires_at",
        "_disconnect_delay",
        "handler_greenlet",
        "handler_done",
        "_started",
        "connection",
        "raw",
        "_queued",
        "_max_queued",
        "stats",
        "owner",
        "__weakref__",
    )

    def __init__(
        self,
        info: ConnectionInfo,
        disconnect_delay: float,
        registry: SessionRegistry | None = None,
        key: str | None = None,
        raw: bool = False,
        max_queued_bytes: int = 4 * 1024 * 1024,
        stats: Stats | None = None,
        max_inbox_bytes: int = 4 * 1024 * 1024,
        owner: SessionOwner | None = None,
    ) -> None:
        self.info = info
        self.raw = raw  # raw websocket: messages are not JSON-quoted
        self.registry = registry
        self.key = key
        self.outlet: Outlet | None = None
        self.close_frame: str | None = None
        self.close_code = 0
        self.close_reason = ""
        self._state = State.CONNECTING
        self._owes_open_frame = False  # opened, and "o" not yet taken by a transport
        #: Quoted messages not yet written (None while there are none: a
        #: session waiting to expire holds no empty list for the GC to walk).
        self._outbox: list[str] | None = None
        self._inbox = Inbox(max_inbox_bytes)
        self._disconnect_delay = disconnect_delay
        #: Loop time at which it expires, None while a request is attached
        #: (or never detached). See ``ExpiryQueue``.
        self._expires_at: float | None = None
        #: The handler's greenlet while it runs; once it has returned, a
        #: shared dead greenlet (``handler_returned()``), so a session
        #: waiting to expire keeps no dead greenlet and its links. None if
        #: the handler never ran (refused).
        self.handler_greenlet: gevent.Greenlet | None = None
        #: The handler has returned (or raised): closing now is its own doing.
        self.handler_done = False
        self._started = False  # the handler was started (``refused`` is False for good)
        self.connection: Connection | None = None
        self._close_callbacks: list[Callable[[Session], object]] | None = None
        self._queued = 0  # characters in the outbox
        self._max_queued = max_queued_bytes
        self.stats = stats if stats is not None else Stats()
        #: Told once when the session closes (one call, no callback object per session).
        self.owner = owner

    # -- state ------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    def _move(self, state: State) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "session %s -> %s (transport=%s remote=%s)",
                self._state.name,
                state.name,
                self.info.transport,
                self.info.remote_addr,
                extra=self.log_context(),
            )
        self._state = state

    @property
    def closed(self) -> bool:
        """Closed by either side (CLOSING or CLOSED)."""
        return self._state >= _CLOSING

    @property
    def refused(self) -> bool:
        """Closed before it ever opened (``refuse``): the handler never ran."""
        return self._state >= _CLOSING and not self._started

    def forget(self) -> None:
        """Nothing will ask for this session again (expired, or its websocket ended)."""
        if self._state is not State.CLOSED:
            self.close(*NORMAL_CLOSURE)  # no-op if already closing
            self._move(State.CLOSED)
            if self._queued:  # never to be written: out of the process's budget
                self.take_messages()

    # -- handler side -----------------------------------------------------

    def start(self, handler: Callable[[Connection], object], connection: Connection) -> None:
        """Open: run the handler in its own greenlet; it sees messages until close."""
        assert self._state is State.CONNECTING, self._state
        self._move(State.OPEN)
        self._owes_open_frame = True
        self._started = True
        self.connection = connection
        self.handler_greenlet = gevent.spawn(self._run_handler, handler, connection)

    def refuse(self, code: int, reason: str) -> None:
        """Close without ever opening: the client's first frame is the close."""
        assert self._state is State.CONNECTING, self._state
        self.close(code, reason)

    def _run_handler(self, handler: Callable, connection: Connection) -> None:
        try:
            try:
                handler(connection)
            finally:
                self.handler_done = True
        except gevent.GreenletExit:
            self.close(*NORMAL_CLOSURE)
        except Exception:
            self.stats.error("handler")
            log.exception(
                "handler %s failed (transport=%s remote=%s); closing its session",
                getattr(handler, "__qualname__", handler),
                self.info.transport,
                self.info.remote_addr,
                extra=self.log_context(),
            )
            self.close(*HANDLER_FAILED)
        else:
            self.close(*NORMAL_CLOSURE)
        finally:
            # The session is closed: drop the back-reference so session and
            # connection are freed by reference counting, not left as a
            # cycle for the cyclic GC (whose full passes are slow with many
            # live sessions). The connection keeps its session. Likewise
            # the greenlet, done but for this return: a session waiting out
            # disconnect_delay would keep it and its link list (two more
            # objects per waiting session for every full GC pass).
            self.connection = None
            self.handler_greenlet = handler_returned()

    def send(self, message: str) -> bool:
        """Queue one message for the client; False if the session is closed.

        A message larger than ``max_queued_bytes`` by itself could never be
        queued: ValueError, rather than closing a client that is keeping up
        as a slow consumer.
        """
        if self._state >= _CLOSING:
            return False
        item = message if self.raw else _quote(message)
        size = len(item)
        if size > self._max_queued:
            raise ValueError(
                f"a message of {size} characters is larger than max_queued_bytes ({self._max_queued}): "
                f"raise max_queued_bytes for this service, or send it in parts"
            )
        return self._enqueue(item)

    def _enqueue(self, item: str) -> bool:
        size = len(item)
        self._queued += size
        BUDGET.take(size)
        if self._queued > self._max_queued:
            self.overflow()
            return False
        self.stats.messages_out += 1
        outbox = self._outbox
        if outbox is None:
            self._outbox = [item]
        else:
            outbox.append(item)
        outlet = self.outlet
        if outlet is not None:
            outlet.wake()
        return True

    @property
    def max_queued_bytes(self) -> int:
        """How much may wait for a client before it counts as a slow consumer."""
        return self._max_queued

    def overflow(self) -> None:
        """The client is not reading: drop what it has not taken and close, saying why.

        Better than holding ever more memory for it.
        """
        self.take_messages()
        if self._state >= _CLOSING:
            return
        self.stats.error("slow_consumer")
        log.warning(
            "closing a slow consumer (transport=%s remote=%s)",
            self.info.transport,
            self.info.remote_addr,
            extra=self.log_context(),
        )
        self.close(*SLOW_CONSUMER)

    def send_quoted(self, message: str, quoted: str) -> bool:
        """Queue a message already passed through ``protocol.quote``.

        Broadcasts quote once and hand the same string to every member.
        """
        if self._state >= _CLOSING:
            return False
        item = message if self.raw else quoted
        if len(item) > self._max_queued:
            log.warning(
                "a broadcast of %d characters is larger than max_queued_bytes (%d); not sent to this "
                "connection (transport=%s remote=%s)",
                len(item),
                self._max_queued,
                self.info.transport,
                self.info.remote_addr,
                extra=self.log_context(),
            )
            return False
        return self._enqueue(item)

    def recv(self, timeout: float | None = None) -> str | None:
        """Next message from the client; None once the session is closed.

        Messages that arrived before the close are still returned first.
        Raises TimeoutError if ``timeout`` seconds pass with nothing to return.
        """
        return self._inbox.get(timeout)

    def receiver(self) -> Callable[[], str | None]:
        """``recv`` with no timeout, as one bound method (what ``for message in conn`` calls)."""
        return self._inbox.get

    def close(self, code: int, reason: str) -> None:
        """Close the session: pending messages go out, then ``c[code,reason]``."""
        if self._state >= _CLOSING:
            return
        self._move(State.CLOSING)
        self.close_code = code
        self.close_reason = reason
        self.close_frame = protocol.close_frame(code, reason)
        inbox = self._inbox
        inbox.close()
        if not inbox.empty():
            # What arrived before the close is still the handler's to read,
            # but a stuck handler must not keep it forever: it gets
            # disconnect_delay, as a client gets to come back.
            # (A one-shot timer stops itself; the loop lets go of it then.)
            gevent.get_hub().loop.timer(self._disconnect_delay).start(self._drop_unread)
        outlet = self.outlet
        if outlet is not None:
            outlet.wake()
        if self.owner is not None:
            try:
                self.owner.session_closed(self)
            except Exception:
                log.exception("%r failed on a session's close", self.owner)
        if self._close_callbacks is not None:
            self._run_close_callbacks()

    # -- transport side ---------------------------------------------------

    def deliver(self, messages: list[str], amount: int | None = None) -> bool:
        """Hand messages from the client to the handler (ignored once closed).

        Always takes them: the transport checks ``inbox_has_room`` first, or
        stops reading once this returns True (the inbox is past its limit).
        """
        if self._state >= _CLOSING:
            return False
        self.stats.messages_in += len(messages)
        inbox = self._inbox
        inbox.put_many(messages, amount)
        return inbox.queued > inbox.limit

    def inbox_has_room(self, amount: int) -> bool:
        """Whether messages of cost ``amount`` (see ``inbox.cost``) fit in the inbox now."""
        return self._inbox.has_room(amount)

    @property
    def max_inbox_bytes(self) -> int:
        return self._inbox.limit

    def on_inbox_room(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once the handler has read the inbox down to half its limit."""
        self._inbox.on_room(callback)

    def _drop_unread(self) -> None:
        dropped = self._inbox.drop()
        if dropped:
            self.stats.error("inbox_dropped")
            log.warning(
                "dropped %d message(s) the handler did not read within disconnect_delay of the close "
                "(transport=%s remote=%s)",
                dropped,
                self.info.transport,
                self.info.remote_addr,
                extra=self.log_context(),
            )

    def log_context(self) -> dict[str, object]:
        """Fields for structured logs: the transport and peer, never the session id."""
        return {"sockjs_transport": self.info.transport, "sockjs_remote_addr": self.info.remote_addr}

    def take_frame(self) -> str | None:
        """The next frame to write, or None when there is nothing to send.

        Order: ``o`` once, then queued messages as one ``a[...]`` frame,
        then the close frame (which every later call returns again).
        """
        if self._owes_open_frame:
            self._owes_open_frame = False
            return protocol.OPEN_FRAME
        if self._outbox:
            return protocol.message_frame(self.take_messages())
        return self.close_frame

    def take_frame_unattached(self) -> str | None:
        """``take_frame`` for a request that answers at once, if it can without attaching.

        None when an outlet is attached (the request must ``attach``, and
        hears 2010 or replaces a client that hung up) or nothing is ready.
        A frame taken counts as a request that attached and detached: the
        session expires disconnect_delay from now unless another comes.
        """
        if self.outlet is not None:
            return None
        frame = self.take_frame()
        if frame is not None and self.registry is not None:
            self._arm_expiry()
        return frame

    def take_frames(self) -> list[str]:
        """Every frame ready now, in order; the close frame, if any, is last."""
        frames = []
        if self._owes_open_frame:
            self._owes_open_frame = False
            frames.append(protocol.OPEN_FRAME)
        if self._outbox:
            frames.append(protocol.message_frame(self.take_messages()))
        close_frame = self.close_frame  # (set as the session starts closing)
        if close_frame is not None:
            frames.append(close_frame)
        return frames

    def take_messages(self) -> list[str]:
        """Empty the outbox: its messages (as queued: quoted unless raw)."""
        messages = self._outbox
        self._outbox = None
        BUDGET.release(self._queued)  # (even with no list: an overflowing send counted its message first)
        self._queued = 0
        return messages if messages is not None else []

    def attach(self, outlet: Outlet) -> bool:
        """Make ``outlet`` the one writing to the client; False if another one is.

        An attached outlet whose client has hung up, unnoticed so far (its
        hang-up is reported by the event loop, and this request may come
        first), does not count: the session is interrupted (1002) as it
        would have been a moment later, and ``outlet`` gets the close.
        """
        current = self.outlet
        if current is not None:
            hung_up = getattr(current, "hung_up", None)
            if hung_up is None or not hung_up():
                return False
            if self.outlet is current:  # (a link may have let go of itself while looking)
                self.outlet = None
                current.wake()  # it finds itself detached and ends
            self.abort()
        self.outlet = outlet
        self._expires_at = None  # (its entry in the expiry queue, if any, is skipped when due)
        return True

    def handover(self, attached: Outlet, successor: Outlet) -> None:
        """Let ``successor`` write in place of ``attached`` (the same request, now served another way)."""
        if self.outlet is not attached:
            raise RuntimeError("handover from an outlet that is not attached")
        self.outlet = successor

    def detach(self, outlet: Outlet) -> None:
        """The outlet is done; the session expires unless another attaches."""
        if self.outlet is outlet:
            self.outlet = None
            if self.registry is not None:
                self._arm_expiry()

    def abort(self) -> None:
        """The attached request was dropped by the network: close the session."""
        if self._state < _CLOSING:
            self.stats.error("aborted")
        self.close(*INTERRUPTED)

    def _arm_expiry(self) -> None:
        """Expire disconnect_delay from now unless an outlet attaches first (``ExpiryQueue``)."""
        expiry_queue(self._disconnect_delay).add(self)

    def _expire(self) -> None:
        """No outlet for disconnect_delay: the client left. Close and forget."""
        if self.outlet is not None:
            return
        self.forget()  # closes first if need be; nobody is left to read the frame
        if self.registry is not None:
            self.registry.remove(self)


#: Due entries within this many seconds of their deadline expire together
#: (one timer callback for a batch; well within a loop's timer precision).
EXPIRY_SLACK = 0.001


class ExpiryQueue:
    """Expires the sessions of one disconnect_delay, from one timer.

    A timer per session waiting to expire cost a libev watcher and its
    bound method, two more objects per session for every full pass of the
    cyclic GC (tens of thousands at thousands of sessions opened a second).
    Here a session arming its expiry sets ``_expires_at`` and joins the
    back of the queue; as every entry waits the same delay, the queue is in
    deadline order and one timer, set for the front's deadline, is enough.
    An entry whose session's ``_expires_at`` is no longer its deadline
    (re-armed: a later entry stands for it; or None: a request attached)
    is dropped as it comes due. The queue holds each session at most
    disconnect_delay past its last arming, as its timer did; entries are
    two deques, a session and its deadline (a float), so a waiting session
    costs no object of its own here. There is an entry per request ended
    within the last delay (a polled session leaves one per poll, each
    dropped as it comes due), so the queue is bounded by the request rate
    times the delay, a few bytes each; a session re-armed with nothing
    queued behind it moves its entry on rather than adding one.
    """

    __slots__ = ("delay", "_loop", "_sessions", "_deadlines", "_timer")

    def __init__(self, delay: float, loop: _Loop) -> None:
        self.delay = delay
        self._loop = loop
        self._sessions: deque[Session] = deque()
        self._deadlines: deque[float] = deque()  # each entry's deadline, beside _sessions
        self._timer: _TimerWatcher | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    def add(self, session: Session) -> None:
        """Expire ``session`` ``delay`` seconds from now (loop time), unless it re-arms or attaches first."""
        loop = self._loop
        # From the time now, not the loop turn's start (which may be long
        # past on a busy server): what the per-session timer's again() did.
        loop.update_now()
        deadline = session._expires_at = loop.now() + self.delay
        sessions = self._sessions
        if sessions:
            if sessions[-1] is session:
                self._deadlines[-1] = deadline  # its entry is the last one: moved on in place
                return
            sessions.append(session)
            self._deadlines.append(deadline)
            return  # (the timer is set for the front, or _due sets it as it ends)
        sessions.append(session)
        self._deadlines.append(deadline)
        if self._timer is None:
            self._start(self.delay)

    def _start(self, after: float) -> None:
        timer = self._timer = self._loop.timer(after)
        timer.start(self._due)

    def _due(self) -> None:
        timer = self._timer
        if timer is not None:  # (it is: this is its callback; a one-shot timer has stopped)
            timer.close()
            self._timer = None
        sessions, deadlines = self._sessions, self._deadlines
        now = self._loop.now()
        horizon = now + EXPIRY_SLACK
        try:
            while deadlines and deadlines[0] <= horizon:
                deadline = deadlines.popleft()
                session = sessions.popleft()
                if session._expires_at != deadline:
                    continue  # re-armed (a later entry) or attached since
                session._expires_at = None
                try:
                    session._expire()
                except Exception:
                    log.exception("expiring %r failed", session)
        finally:
            if deadlines and self._timer is None:
                self._start(max(deadlines[0] - now, 0.0))


#: The hub attribute holding its ``ExpiryQueue``s (one per delay, made as first needed).
_QUEUES = "_sockjs_expiry_queues"
#: The hub attribute holding its ``handler_returned()`` greenlet.
_RETURNED = "_sockjs_handler_returned"


def expiry_queue(delay: float) -> ExpiryQueue:
    """This thread's hub's queue for ``delay`` (made lazily, so a process that forks before serving, as a
    gunicorn master, makes none, and each hub's timer is its own)."""
    hub = gevent.get_hub()
    queues: dict[float, ExpiryQueue] | None = getattr(hub, _QUEUES, None)
    if queues is None:
        queues = {}
        setattr(hub, _QUEUES, queues)
    queue = queues.get(delay)
    if queue is None:
        queue = queues[delay] = ExpiryQueue(delay, hub.loop)
    return queue


def _returned() -> None:  # pragma: no cover  (never runs: its greenlet is killed before it starts)
    pass


def handler_returned() -> gevent.Greenlet:
    """The dead greenlet a session's ``handler_greenlet`` becomes once its handler has returned.

    One per hub, shared: ``dead`` and ``ready()`` are True, ``join()`` and
    ``kill()`` return at once, as for the handler's own greenlet.
    """
    hub = gevent.get_hub()
    marker: gevent.Greenlet | None = getattr(hub, _RETURNED, None)
    if marker is None:
        marker = gevent.Greenlet(_returned)
        marker.kill(block=False)  # (never started: dead at once, nothing scheduled)
        setattr(hub, _RETURNED, marker)
    return marker


class SessionRegistry:
    """The live sessions of one service, by session id."""

    __slots__ = ("_sessions",)

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}

    def get(self, key: str) -> Session | None:
        return self._sessions.get(key)

    def add(self, session: Session) -> None:
        assert session.key is not None
        self._sessions[session.key] = session

    def remove(self, session: Session) -> None:
        if session.key is not None and self._sessions.get(session.key) is session:
            del self._sessions[session.key]

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self):
        return iter(list(self._sessions.values()))
