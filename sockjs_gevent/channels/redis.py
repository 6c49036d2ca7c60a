"""A channel backend on Redis pub/sub: one publish reaches every worker.

Each worker delivers its own publishes to its local members at once (so a
Redis outage never stops local delivery), and sends them to Redis from one
writer greenlet, batched in pipelines, which keeps each publisher's order.
One reader greenlet per worker pattern-subscribes to every channel under the
prefix and delivers what other workers published; it reconnects with
backoff on its own. Needs gevent's monkey-patching (``python -m
sockjs_gevent`` and ``sockjs_gevent.cluster`` do it) so redis-py's sockets
cooperate with the event loop.

Delivery between workers is at most once, like Redis pub/sub itself: what
is published while Redis is unreachable reaches the publishing worker's
members only, and is dropped for the others rather than held (memory stays
bounded and nobody gets a burst of stale messages when Redis returns).
A process that publishes and then exits (a CLI command) calls
``channels.flush()`` first, so the writer sends before it is cut short.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import gevent
from gevent import monkey
from gevent.event import AsyncResult, Event
from gevent.queue import Full, Queue

from ..waiting import quiet_timeout
from .hub import (
    REDIS_URL_ENV,  # noqa: F401 (the variable naming the server; defined with the hub)
    DeliverFn,
)

log = logging.getLogger("sockjs_gevent.channels.redis")

_ORIGIN_BYTES = 16
_BATCH = 512
#: Publishes waiting for the writer; past this (Redis stalled) new ones are
#: delivered locally only.
MAX_PENDING = 100_000


class RedisBackend:
    """Channels across processes through Redis pub/sub at ``url``."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "sockjs:",
        max_backoff: float = 5.0,
        max_pending: int = MAX_PENDING,
    ) -> None:
        import redis  # imported here: only Redis deployments need the package

        self._redis = redis
        self.url = url
        self.prefix = prefix
        self.max_backoff = max_backoff
        self._origin = os.urandom(_ORIGIN_BYTES)
        self._client: Any = None
        self._deliver: DeliverFn | None = None
        self._outgoing: Queue = Queue(max_pending)
        self._greenlets: list[gevent.Greenlet] = []
        #: Publishes that reached local members only (Redis down or stalled).
        self.dropped = 0
        #: Set while the subscription is confirmed live (for tests and health checks).
        self.connected = Event()

    def start(self, deliver: DeliverFn) -> None:
        if not monkey.is_module_patched("socket"):
            raise RuntimeError(
                "RedisBackend needs gevent monkey-patching so Redis I/O does not block every session: "
                "call gevent.monkey.patch_all() at the top of your program (python -m sockjs_gevent does)"
            )
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._deliver = deliver
        # One immediate retry (a pooled connection that went stale while Redis
        # restarted), then the error reaches our loops, which log it and back off.
        self._client = self._redis.Redis.from_url(
            self.url,
            socket_connect_timeout=2.0,
            health_check_interval=10,
            retry=Retry(NoBackoff(), 1),
        )
        self._greenlets = [gevent.spawn(self._read_loop, deliver), gevent.spawn(self._write_loop)]

    def publish(self, channel: str, message: str, exclude: str | None = None) -> int:
        """Deliver to this process's members now (returns how many), and queue the publish for the other workers."""
        assert self._deliver is not None, "backend not started"
        delivered = self._deliver(channel, message, exclude)  # local members first, whatever Redis does
        try:
            self._outgoing.put_nowait((channel, message, exclude))
        except Full:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning(
                    "the Redis writer is %d messages behind; new publishes reach local members only",
                    self._outgoing.maxsize,
                )
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
        self.connected.clear()
        if self._client is not None:
            self._client.close()

    # -- greenlets ----------------------------------------------------------

    def _write_loop(self) -> None:
        backoff = 0.1
        while True:
            batch = [self._outgoing.get()]
            while len(batch) < _BATCH and not self._outgoing.empty():
                batch.append(self._outgoing.get_nowait())
            publishes, flushes = _split(batch)
            try:
                if publishes:
                    pipe = self._client.pipeline(transaction=False)
                    for channel, message, exclude in publishes:
                        pipe.publish(self.prefix + channel, self._encode(message, exclude))
                    pipe.execute()
                backoff = 0.1
                for flushed in flushes:
                    flushed.set(True)
            except Exception as exc:  # noqa: BLE001 (this greenlet must outlive any error)
                # Drop what waits too: by the time Redis is back it is stale.
                pending = [self._outgoing.get_nowait() for _ in range(self._outgoing.qsize())]
                dropped, more_flushes = _split(pending)
                lost = len(publishes) + len(dropped)
                self.dropped += lost
                for flushed in flushes + more_flushes:
                    flushed.set(False)
                log.warning("redis publish failed (%s); %d message(s) reached local members only", _describe(exc), lost)
                gevent.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _read_loop(self, deliver: DeliverFn) -> None:
        backoff = 0.1
        pattern = self.prefix + "*"
        skip = len(self.prefix)
        while True:
            pubsub = self._client.pubsub()
            try:
                pubsub.psubscribe(pattern)
                for item in pubsub.listen():
                    kind = item.get("type")
                    if kind == "psubscribe":
                        # Confirmed: from now on every publish reaches us.
                        log.info("subscribed to %s on %s", pattern, self.url)
                        self.connected.set()
                        backoff = 0.1
                        continue
                    if kind != "pmessage":
                        continue
                    data = item["data"]
                    if data[:_ORIGIN_BYTES] == self._origin:
                        continue  # ours: already delivered locally
                    channel = item["channel"][skip:].decode("utf-8", "replace")
                    try:
                        deliver(channel, *_decode(data))
                    except Exception:  # noqa: BLE001
                        log.exception("delivering a message of channel %r failed", channel)
                raise self._redis.exceptions.ConnectionError("subscription ended")
            except Exception as exc:  # noqa: BLE001 (this greenlet must outlive any error)
                self.connected.clear()
                log.warning("redis subscription lost (%s); reconnecting in %.1f s", _describe(exc), backoff)
                gevent.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
            finally:
                try:
                    pubsub.close()
                except Exception:  # noqa: BLE001
                    pass

    def _encode(self, message: str, exclude: str | None) -> bytes:
        """Our origin, the excluded member's id (length-prefixed), the message."""
        skip = (exclude or "").encode("ascii")
        return self._origin + bytes([len(skip)]) + skip + message.encode("utf-8", "surrogatepass")


def _split(items: list[Any]) -> tuple[list[tuple[str, str, str | None]], list[AsyncResult]]:
    """(publishes, flush markers) of what the writer took from its queue."""
    publishes = [item for item in items if not isinstance(item, AsyncResult)]
    return publishes, [item for item in items if isinstance(item, AsyncResult)]


def _decode(data: bytes) -> tuple[str, str | None]:
    """(message, excluded id) of a publish from another worker."""
    n = data[_ORIGIN_BYTES]
    start = _ORIGIN_BYTES + 1
    exclude = data[start : start + n].decode("ascii") if n else None
    return data[start + n :].decode("utf-8", "surrogatepass"), exclude


def _describe(exc: BaseException) -> str:
    """``Type: message`` (redis-py's own repr says little, e.g. ``network:ConnectionError``)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
