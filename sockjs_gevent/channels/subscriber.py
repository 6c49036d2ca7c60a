"""One Redis pub/sub connection whose subscriptions follow a set of wanted channels.

The backends say which channels they want (``want`` / ``drop``); a sender
greenlet tells Redis the difference in batches (a join and a leave of the
same channel between two batches cost nothing), and the reader greenlet
hands each message to ``on_message``. After a reconnect, everything wanted
*now* is subscribed again: what was dropped meanwhile is not. A channel's
subscription is *confirmed* once Redis acknowledged the last command sent
for it, so ``wait`` can tell a joining member that every later publish
reaches it. The sender also pings an idle connection, and drops it when
nothing came back for three pings (a peer that vanished without a FIN).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.event import Event

log = logging.getLogger("sockjs_gevent.channels.redis")


@dataclass(frozen=True)
class Mode:
    """The pub/sub command family a subscriber speaks."""

    subscribe: bytes
    unsubscribe: bytes
    message: bytes
    #: Channels per command: a sharded SUBSCRIBE takes one slot's channels only.
    per_command: int

    @property
    def subscribed(self) -> bytes:
        return self.subscribe.lower()

    @property
    def unsubscribed(self) -> bytes:
        return self.unsubscribe.lower()


CHANNELS = Mode(b"SUBSCRIBE", b"UNSUBSCRIBE", b"message", 256)
PATTERNS = Mode(b"PSUBSCRIBE", b"PUNSUBSCRIBE", b"pmessage", 256)
SHARDS = Mode(b"SSUBSCRIBE", b"SUNSUBSCRIBE", b"smessage", 1)

MessageFn = Callable[[bytes, bytes], None]


class Subscriber:
    """Subscriptions to ``wanted`` channels on one Redis server, kept live across reconnects."""

    def __init__(
        self,
        connect: Callable[[], Any],
        mode: Mode,
        on_message: MessageFn,
        *,
        name: str,
        max_backoff: float = 5.0,
        ping_interval: float = 10.0,
        on_up: Callable[[], None] | None = None,
        on_down: Callable[[BaseException], None] | None = None,
        on_revoked: Callable[[bytes], None] | None = None,
    ) -> None:
        #: Builds an unconnected redis-py ``Connection``.
        self._connect = connect
        self.mode = mode
        self._on_message = on_message
        self.name = name
        self.max_backoff = max_backoff
        self.ping_interval = ping_interval
        self._on_up = on_up
        self._on_down = on_down
        #: Called when Redis ended a subscription we did not end (a sharded
        #: channel's slot moved to another node).
        self._on_revoked = on_revoked
        self.wanted: set[bytes] = set()
        # What changed in ``wanted`` since the sender last looked (ordered, deduplicated).
        self._changed: dict[bytes, None] = {}
        # The current connection's state: told to Redis, commands awaiting a reply, acknowledged.
        self._sent: set[bytes] = set()
        self._outstanding: dict[bytes, int] = {}
        # The channel each awaited acknowledgement is for, in the order Redis answers.
        self._expected: deque[bytes] = deque()
        self._confirmed: set[bytes] = set()
        self._waiters: dict[bytes, Event] = {}
        self._wake = Event()
        self._conn: Any = None
        self._last_read = 0.0
        self._greenlet: gevent.Greenlet | None = None
        self._sender: gevent.Greenlet | None = None
        #: Set once the first connection is up or has failed (or the subscriber stopped): until
        #: then ``wait`` waits for it, rather than taking "not connected" for Redis being down.
        self._attempted = Event()
        #: Set while connected and every subscription sent at connect time is acknowledged.
        self.connected = Event()
        #: Messages and payload bytes received (for the bench and stats).
        self.received = 0
        self.received_bytes = 0

    # -- what the backend asks ---------------------------------------------

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        """End the subscriptions: the greenlets, the connection, and any ``wait`` under way."""
        for greenlet in (self._greenlet, self._sender):
            if greenlet is not None:
                greenlet.kill()
        self._greenlet = self._sender = None
        self._close()
        self._attempted.set()

    def want(self, channel: bytes) -> None:
        if channel not in self.wanted:
            self.wanted.add(channel)
            self._changed_now(channel)

    def drop(self, channel: bytes) -> None:
        if channel in self.wanted:
            self.wanted.discard(channel)
            self._changed_now(channel)
            waiter = self._waiters.pop(channel, None)
            if waiter is not None:
                waiter.set()

    def _changed_now(self, channel: bytes) -> None:
        # While disconnected nothing is recorded: the next connection subscribes to all of ``wanted``.
        if self._conn is not None:
            self._changed[channel] = None
            self._wake.set()

    def count(self) -> int:
        """How many channels (or patterns) are wanted."""
        return len(self.wanted)

    def wait(self, channel: bytes, timeout: float) -> bool:
        """Until Redis acknowledged ``channel``'s subscription (at most ``timeout`` s).

        A new subscriber's first connection is waited for; after it, False
        at once while disconnected.
        """
        if not self._attempted.is_set():
            started = time.monotonic()
            self._attempted.wait(timeout)
            timeout = max(0.0, timeout - (time.monotonic() - started))
        if channel in self._confirmed:
            return True
        if not self.connected.is_set() or channel not in self.wanted:
            return False
        waiter = self._waiters.get(channel)
        if waiter is None:
            waiter = self._waiters[channel] = Event()
        waiter.wait(timeout)
        return channel in self._confirmed

    # -- the connection -----------------------------------------------------

    def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                conn = self._open()
                backoff = 0.1
                self._sender = gevent.spawn(self._send_loop, conn)
                self._read_loop(conn)
            except Exception as exc:  # noqa: BLE001 (this greenlet must outlive any error)
                if self._sender is not None:
                    self._sender.kill()
                    self._sender = None
                self._close()
                log.warning(
                    "redis subscription lost on %s (%s); reconnecting in %.1f s", self.name, describe(exc), backoff
                )
                self._attempted.set()
                if self._on_down is not None:
                    self._on_down(exc)
                gevent.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _open(self) -> Any:
        conn = self._connect()
        conn.connect()
        self._conn = conn
        self._last_read = time.monotonic()
        self._sent.clear()
        self._outstanding.clear()
        self._expected.clear()
        self._confirmed.clear()
        # Everything wanted now goes out first.
        self._changed = dict.fromkeys(self.wanted)
        self._send_changes(conn)
        if not self._outstanding:
            self._up()
        return conn

    def _close(self) -> None:
        self.connected.clear()
        self._confirmed.clear()
        for waiter in self._waiters.values():
            waiter.set()
        self._waiters.clear()
        if self._conn is not None:
            _disconnect(self._conn)
            self._conn = None

    def _up(self) -> None:
        if not self.connected.is_set():
            self.connected.set()
            self._attempted.set()
            log.info("subscribed to %d channel(s) on %s", len(self._sent), self.name)
            if self._on_up is not None:
                self._on_up()

    def _send_loop(self, conn: Any) -> None:
        """Send subscription changes and keep-alive pings on ``conn`` until it fails."""
        try:
            while True:
                self._wake.wait(self.ping_interval)
                self._wake.clear()
                if self._changed:
                    self._send_changes(conn)
                    continue
                silent = time.monotonic() - self._last_read
                if silent > 3 * self.ping_interval:
                    raise ConnectionError(f"no reply in {silent:.1f} s")
                if silent >= self.ping_interval:
                    conn.send_packed_command(conn.pack_command(b"PING"), check_health=False)
        except Exception as exc:  # noqa: BLE001
            # The reader is blocked on the socket: closing it makes the reader fail and reconnect.
            log.debug("redis subscription sender on %s stopped: %s", self.name, describe(exc))
            _disconnect(conn)

    def _send_changes(self, conn: Any) -> None:
        """Tell Redis what changed in ``wanted`` since the last batch, in one write."""
        changed, self._changed = self._changed, {}
        adds = [channel for channel in changed if channel in self.wanted and channel not in self._sent]
        removes = [channel for channel in changed if channel not in self.wanted and channel in self._sent]
        if not adds and not removes:
            return
        commands = list(self._commands(self.mode.subscribe, adds)) + list(
            self._commands(self.mode.unsubscribe, removes)
        )
        for channel in adds:
            self._sent.add(channel)
        for channel in removes:
            self._sent.discard(channel)
            self._confirmed.discard(channel)
        for channel in adds + removes:
            self._outstanding[channel] = self._outstanding.get(channel, 0) + 1
            self._expected.append(channel)
        conn.send_packed_command(conn.pack_commands(commands), check_health=False)

    def _commands(self, command: bytes, channels: list[bytes]) -> Iterable[tuple[bytes, ...]]:
        step = self.mode.per_command
        for start in range(0, len(channels), step):
            yield (command, *channels[start : start + step])

    def _read_loop(self, conn: Any) -> None:
        from redis.exceptions import ResponseError  # imported here: only Redis deployments need the package

        mode = self.mode
        pattern = mode is PATTERNS
        while True:
            try:
                reply = conn.read_response(push_request=True)
            except ResponseError as exc:
                self._refused(exc)
                continue
            self._last_read = time.monotonic()
            kind = reply[0]
            if kind == mode.message:
                channel, data = (reply[2], reply[3]) if pattern else (reply[1], reply[2])
                self.received += 1
                self.received_bytes += len(data)
                try:
                    self._on_message(channel, data)
                except Exception:  # noqa: BLE001
                    log.exception("delivering a message of channel %r failed", channel)
            elif kind == mode.subscribed:
                self._acknowledged(reply[1], subscribed=True)
            elif kind == mode.unsubscribed:
                self._acknowledged(reply[1], subscribed=False)

    def _acknowledged(self, channel: bytes, subscribed: bool) -> None:
        if not self._expected or self._expected[0] != channel:
            # Not an answer to us: Redis ended it (the slot of a sharded channel moved away).
            if not subscribed:
                self._revoked(channel)
            return
        self._expected.popleft()
        self._answered(channel, subscribed)

    def _refused(self, exc: Exception) -> None:
        """An error answer (e.g. MOVED: the channel's slot is on another node) to a command of ours."""
        if not self._expected or self.mode.per_command != 1:
            raise exc  # nothing of ours to pin it on: start over on a new connection
        channel = self._expected.popleft()
        log.warning("redis %s refused channel %r: %s", self.name, channel, describe(exc))
        self._answered(channel, subscribed=False)
        self._revoked(channel)

    def _revoked(self, channel: bytes) -> None:
        """Redis holds no subscription to ``channel`` here any more, though we sent one: tell the backend."""
        self._sent.discard(channel)
        self._confirmed.discard(channel)
        if channel in self.wanted and self._on_revoked is not None:
            self._on_revoked(channel)

    def _answered(self, channel: bytes, subscribed: bool) -> None:
        left = self._outstanding.get(channel, 0)
        if left <= 1:
            self._outstanding.pop(channel, None)
            if subscribed and channel in self._sent:
                self._confirmed.add(channel)
                waiter = self._waiters.pop(channel, None)
                if waiter is not None:
                    waiter.set()
        else:
            self._outstanding[channel] = left - 1
        if not self._outstanding:
            self._up()


def _disconnect(conn: Any) -> None:
    try:
        conn.disconnect()
    except Exception:  # noqa: BLE001 (closing what already failed)
        pass


def describe(exc: BaseException) -> str:
    """``Type: message`` (redis-py's own repr says little, e.g. ``network:ConnectionError``)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
