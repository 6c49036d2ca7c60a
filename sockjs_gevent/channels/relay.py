"""What the Redis channel backends share: local-first publishes, one batched writer, presence.

A publish is delivered to this process's members at once (a Redis outage
never stops local delivery) and queued for the writer greenlet, which sends
queued publishes and presence changes in pipelines, in order. The
subscriptions (a ``Subscriber`` on one server, one per shard on a cluster)
follow local membership: the hub says when a channel gets its first local
member and loses its last, and a worker receives only its channels.

Delivery between workers is at most once, like Redis pub/sub itself: what
is published while Redis is unreachable reaches the publishing worker's
members only, and is dropped for the others rather than held (memory stays
bounded, and nobody gets a burst of stale messages when Redis returns).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

import gevent
from gevent import monkey
from gevent.event import AsyncResult, Event
from gevent.queue import Full, Queue

from ..waiting import quiet_timeout
from .hub import DeliverFn, PresenceUnavailable
from .presence import PresenceStore
from .subscriber import describe

log = logging.getLogger("sockjs_gevent.channels.redis")

_ORIGIN_BYTES = 16
_BATCH = 512
#: Publishes waiting for the writer; past this (Redis stalled) new ones are
#: delivered locally only.
MAX_PENDING = 100_000
#: A queue item that only wakes the writer (a heartbeat or resync is due).
_WAKE = object()


class Subscriptions(Protocol):
    """A backend's subscriptions: one ``Subscriber`` or one per cluster shard."""

    connected: Event

    @property
    def received(self) -> int:
        """Messages received from Redis."""

    @property
    def received_bytes(self) -> int:
        """Their payload bytes."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def want(self, channel: bytes) -> None: ...

    def drop(self, channel: bytes) -> None: ...

    def wait(self, channel: bytes, timeout: float) -> bool: ...

    def count(self) -> int: ...


class RedisRelay:
    """The shared body of ``RedisBackend`` and ``RedisClusterBackend`` (see the module docstring)."""

    #: The pipeline method that publishes: ``publish`` or ``spublish``.
    publish_command = "publish"

    def __init__(
        self,
        url: str,
        prefix: str,
        max_backoff: float,
        max_pending: int,
        join_timeout: float,
        presence_ttl: float,
        ping_interval: float,
    ) -> None:
        _check_positive(
            max_backoff=max_backoff, join_timeout=join_timeout, presence_ttl=presence_ttl, ping_interval=ping_interval
        )
        if not isinstance(max_pending, int) or max_pending < 1:
            raise ValueError(f"max_pending is a positive number of messages, got {max_pending!r}")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix is a str (e.g. 'sockjs:'), got {type(prefix).__name__}")
        import redis  # imported here: only Redis deployments need the package

        pool = redis.ConnectionPool.from_url(url)  # parses the URL (TLS, unix sockets, db, auth); connects nothing
        self._connection_class = pool.connection_class
        self._connection_kwargs = pool.connection_kwargs
        self.url = url
        self.prefix = prefix
        self.max_backoff = max_backoff
        self.join_timeout = join_timeout
        self.presence_ttl = presence_ttl
        self.ping_interval = ping_interval
        self._origin = os.urandom(_ORIGIN_BYTES)
        self._presence = PresenceStore(prefix, os.urandom(8).hex(), presence_ttl)
        self._client: Any = None
        self._subscriptions: Subscriptions | None = None
        self._deliver: DeliverFn | None = None
        self._outgoing: Queue = Queue(max_pending)
        self._greenlets: list[gevent.Greenlet] = []
        self._resync_due = True
        #: Publishes that reached local members only (Redis down or stalled).
        self.dropped = 0
        #: Set while the subscriptions are confirmed live (for tests and health checks).
        self.connected = Event()

    # -- what a backend provides ----------------------------------------------

    def _make_client(self) -> Any:
        """The redis-py client publishes and presence go through (may raise while Redis is unreachable)."""
        raise NotImplementedError

    def _get_client(self) -> Any:
        """The client, made on first use: a backend whose client connects when made starts while Redis is down."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _subscriber_connection(self, **address: Any) -> Any:
        """A fresh connection for a subscriber (to ``address``: host and port, else the URL's).

        No socket timeout (it waits for messages) and no health checks (it pings on its own).
        """
        options = dict(
            self._connection_kwargs, socket_timeout=None, socket_connect_timeout=2.0, health_check_interval=0
        )
        return self._connection_class(**dict(options, **address))

    def _make_subscriptions(self) -> Subscriptions:
        raise NotImplementedError

    #: Whether subscriptions follow local membership (False: one pattern for every channel).
    follows_members = True

    # -- the Backend protocol ---------------------------------------------------

    def start(self, deliver: DeliverFn) -> None:
        if not monkey.is_module_patched("socket"):
            raise RuntimeError(
                f"{type(self).__name__} needs gevent monkey-patching so Redis I/O does not block every session: "
                "call gevent.monkey.patch_all() at the top of your program (python -m sockjs_gevent does)"
            )
        self._deliver = deliver
        self._subscriptions = self._make_subscriptions()
        self.connected = self._subscriptions.connected
        self._subscriptions.start()
        self._greenlets = [gevent.spawn(self._write_loop), gevent.spawn(self._heartbeat_loop)]

    def publish(self, channel: str, message: str, exclude: str | None = None) -> int:
        """Deliver to this process's members now (returns how many), and queue the publish for the other workers."""
        assert self._deliver is not None, "backend not started"
        delivered = self._deliver(channel, message, exclude)  # local members first, whatever Redis does
        self._queue(("publish", channel, message, exclude))
        return delivered

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the writer has sent every publish queued so far to Redis.

        False if Redis did not take them within ``timeout`` seconds (they
        are then dropped, as any publish while Redis is unreachable).
        """
        if not self._greenlets:
            return self._outgoing.empty()
        sent: AsyncResult = AsyncResult()  # a marker in the queue: the writer sets it once past it
        with quiet_timeout(timeout):
            self._outgoing.put(sent)
            return bool(sent.get())
        return False

    def stop(self) -> None:
        gevent.killall(self._greenlets)
        self._greenlets = []
        if self._subscriptions is not None:
            self._subscriptions.stop()
        if self._client is not None:
            self._client.close()

    # -- membership (the hub's optional hooks) ------------------------------------

    def subscribe(self, key: str) -> None:
        if self.follows_members and self._subscriptions is not None:
            self._subscriptions.want(self.channel_name(key))

    def unsubscribe(self, key: str) -> None:
        if self.follows_members and self._subscriptions is not None:
            self._subscriptions.drop(self.channel_name(key))

    def wait_subscribed(self, key: str) -> bool:
        """Until publishes to ``key`` from other workers reach this one (at most ``join_timeout``)."""
        if self._subscriptions is None:
            return False
        if not self.follows_members:
            return self.connected.is_set()
        return self._subscriptions.wait(self.channel_name(key), self.join_timeout)

    def add_presence(self, key: str, member_id: str, info: str) -> None:
        self._presence.add(key, member_id, info)
        self._queue(("present", key, member_id, info))

    def remove_presence(self, key: str, member_id: str) -> None:
        self._presence.remove(key, member_id)
        self._queue(("absent", key, member_id, None))

    def presence(self, key: str, timeout: float = 2.0) -> dict[str, str]:
        """Member id -> info JSON of ``key`` on every live worker, read from Redis."""
        try:
            with gevent.Timeout(timeout, TimeoutError(f"no answer in {timeout} s")):
                return self._presence.read(self._get_client(), key)
        except Exception as exc:  # noqa: BLE001 (any failure of the store is the same answer to the caller)
            raise PresenceUnavailable(
                f"presence of channel {key!r} could not be read from Redis at {self.url}: {describe(exc)}"
            ) from exc

    def stats(self) -> dict[str, Any]:
        """Counters for tests, the bench and health checks."""
        subscriptions = self._subscriptions
        return {
            "connected": self.connected.is_set(),
            "subscriptions": subscriptions.count() if subscriptions else 0,
            "received": subscriptions.received if subscriptions else 0,
            "received_bytes": subscriptions.received_bytes if subscriptions else 0,
            "dropped": self.dropped,
            "pending": self._outgoing.qsize(),
        }

    # -- names and payloads -----------------------------------------------------------

    def channel_name(self, key: str) -> bytes:
        """The Redis channel that carries ``key``."""
        return (self.prefix + key).encode("utf-8", "surrogatepass")

    def _on_message(self, channel: bytes, data: bytes) -> None:
        if data[:_ORIGIN_BYTES] == self._origin:
            return  # ours: already delivered locally
        assert self._deliver is not None
        key = channel.decode("utf-8", "surrogatepass")[len(self.prefix) :]
        self._deliver(key, *_decode(data))

    def _on_up(self) -> None:
        """A subscription connection (re)opened: Redis may have restarted empty, so write presence again."""
        self._resync_due = True
        self._queue(_WAKE)

    def _encode(self, message: str, exclude: str | None) -> bytes:
        """Our origin, the excluded member's id (length-prefixed), the message."""
        skip = (exclude or "").encode("ascii")
        return self._origin + bytes([len(skip)]) + skip + message.encode("utf-8", "surrogatepass")

    # -- greenlets ----------------------------------------------------------------------

    def _queue(self, item: object) -> None:
        try:
            self._outgoing.put_nowait(item)
        except Full:
            if isinstance(item, tuple) and self._lost([item]) and self.dropped % 1000 == 1:
                log.warning(
                    "the Redis writer is %d messages behind; new publishes reach local members only",
                    self._outgoing.maxsize,
                )

    def _lost(self, ops: list[tuple[str, str, str, str | None]]) -> int:
        """``ops`` will not reach Redis: count the publishes as dropped, and write presence again later.

        Returns how many publishes were lost.
        """
        publishes = sum(1 for op in ops if op[0] == "publish")
        self.dropped += publishes
        if publishes < len(ops):
            self._presence.lost(op[1] for op in ops if op[0] != "publish")
            self._resync_due = True
        return publishes

    def _heartbeat_loop(self) -> None:
        while True:
            gevent.sleep(self.presence_ttl / 3)
            self._queue(_WAKE)

    def _write_loop(self) -> None:
        backoff = 0.1
        while True:
            batch = [self._outgoing.get()]
            while len(batch) < _BATCH and not self._outgoing.empty():
                batch.append(self._outgoing.get_nowait())
            ops = [item for item in batch if isinstance(item, tuple)]
            flushes = [item for item in batch if isinstance(item, AsyncResult)]
            try:
                client = self._get_client()
                pipe = client.pipeline(transaction=False)
                if self._resync_due:
                    self._resync_due = False
                    self._presence.resync(client)  # the heartbeat included
                elif _WAKE in batch:
                    self._presence.queue_heartbeat(pipe)
                self._queue_ops(pipe, ops)
                if len(pipe):
                    pipe.execute()
                backoff = 0.1
                for flushed in flushes:
                    flushed.set(True)
            except Exception as exc:  # noqa: BLE001 (this greenlet must outlive any error)
                # Drop what waits too: by the time Redis is back it is stale.
                pending = [self._outgoing.get_nowait() for _ in range(self._outgoing.qsize())]
                ops += [item for item in pending if isinstance(item, tuple)]
                flushes += [item for item in pending if isinstance(item, AsyncResult)]
                lost = self._lost(ops)
                self._resync_due = True  # whatever was lost: Redis may come back empty
                for flushed in flushes:
                    flushed.set(False)
                if lost:
                    log.warning(
                        "redis publish failed (%s); %d message(s) reached local members only", describe(exc), lost
                    )
                else:
                    log.warning("redis write failed (%s); presence is written again once Redis answers", describe(exc))
                gevent.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _queue_ops(self, pipe: Any, ops: list[tuple[str, str, str, str | None]]) -> None:
        publish = getattr(pipe, self.publish_command)
        presence = self._presence
        for kind, key, text, extra in ops:
            if kind == "publish":
                publish(self.channel_name(key), self._encode(text, extra))
            elif kind == "present":
                assert extra is not None
                presence.queue_add(pipe, key, text, extra)
            else:
                presence.queue_remove(pipe, key, text)


def _decode(data: bytes) -> tuple[str, str | None]:
    """(message, excluded id) of a publish from another worker."""
    n = data[_ORIGIN_BYTES]
    start = _ORIGIN_BYTES + 1
    exclude = data[start : start + n].decode("ascii") if n else None
    return data[start + n :].decode("utf-8", "surrogatepass"), exclude


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} is a positive number of seconds, got {value!r}")
