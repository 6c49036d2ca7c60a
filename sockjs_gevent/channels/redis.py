"""A channel backend on Redis pub/sub: one publish reaches every worker.

Each worker delivers its own publishes to its local members at once (so a
Redis outage never stops local delivery), and sends them to Redis from one
writer greenlet, batched in pipelines, which keeps each publisher's order.
One reader greenlet per worker pattern-subscribes to every channel under the
prefix and delivers what other workers published; it reconnects with
backoff on its own. Needs gevent's monkey-patching (``python -m
sockjs_gevent`` and ``sockjs_gevent.cluster`` do it) so redis-py's sockets
cooperate with the event loop.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional

import gevent
from gevent import monkey
from gevent.queue import Queue

from .hub import REDIS_URL_ENV as URL_ENV  # noqa: F401 (re-exported)
from .hub import DeliverFn

log = logging.getLogger("sockjs_gevent.channels.redis")

_ORIGIN_BYTES = 16
_BATCH = 512


class RedisBackend:
    """Channels across processes through Redis pub/sub at ``url``."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", prefix: str = "sockjs:", max_backoff: float = 5.0) -> None:
        import redis  # imported here: only Redis deployments need the package

        self._redis = redis
        self.url = url
        self.prefix = prefix
        self.max_backoff = max_backoff
        self._origin = os.urandom(_ORIGIN_BYTES)
        self._client: Any = None
        self._deliver: Optional[DeliverFn] = None
        self._outgoing: Queue = Queue()
        self._greenlets: list[gevent.Greenlet] = []
        #: True while the subscription is live (for tests and health checks).
        self.connected = gevent.event.Event()

    def start(self, deliver: DeliverFn) -> None:
        if not monkey.is_module_patched("socket"):
            raise RuntimeError(
                "RedisBackend needs gevent monkey-patching so Redis I/O does not block every session: "
                "call gevent.monkey.patch_all() at the top of your program (python -m sockjs_gevent does)"
            )
        self._deliver = deliver
        self._client = self._redis.Redis.from_url(self.url, socket_connect_timeout=2.0, health_check_interval=10)
        self._greenlets = [gevent.spawn(self._read_loop), gevent.spawn(self._write_loop)]

    def publish(self, channel: str, message: str) -> None:
        assert self._deliver is not None, "backend not started"
        self._deliver(channel, message)  # local members first, whatever Redis does
        self._outgoing.put((channel, message))

    def stop(self) -> None:
        gevent.killall(self._greenlets)
        self._greenlets = []
        if self._client is not None:
            self._client.close()

    # -- greenlets ----------------------------------------------------------

    def _write_loop(self) -> None:
        errors = self._connection_errors()
        backoff = 0.1
        while True:
            batch = [self._outgoing.get()]
            while len(batch) < _BATCH and not self._outgoing.empty():
                batch.append(self._outgoing.get_nowait())
            try:
                pipe = self._client.pipeline(transaction=False)
                for channel, message in batch:
                    pipe.publish(self.prefix + channel, self._origin + message.encode("utf-8", "surrogatepass"))
                pipe.execute()
                backoff = 0.1
            except errors as exc:
                log.warning("redis publish failed (%s); %d message(s) reached local members only", exc, len(batch))
                gevent.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _read_loop(self) -> None:
        errors = self._connection_errors()
        backoff = 0.1
        pattern = self.prefix + "*"
        skip = len(self.prefix)
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.psubscribe(pattern)
                log.info("subscribed to %s on %s", pattern, self.url)
                self.connected.set()
                backoff = 0.1
                for item in pubsub.listen():
                    if item.get("type") != "pmessage":
                        continue
                    data = item["data"]
                    if data[:_ORIGIN_BYTES] == self._origin:
                        continue  # ours: already delivered locally
                    channel = item["channel"][skip:].decode("utf-8", "replace")
                    self._deliver(channel, data[_ORIGIN_BYTES:].decode("utf-8", "surrogatepass"))
            except errors as exc:
                self.connected.clear()
                log.warning("redis subscription lost (%s); reconnecting in %.1f s", exc, backoff)
                gevent.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
            finally:
                try:
                    pubsub.close()
                except Exception:
                    pass

    def _connection_errors(self) -> tuple[type[BaseException], ...]:
        exceptions = self._redis.exceptions
        return (exceptions.ConnectionError, exceptions.TimeoutError, OSError)
