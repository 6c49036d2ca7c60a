"""A channel backend on one Redis server: a worker subscribes to the channels it has members in.

Each worker delivers its own publishes to its local members at once, and
sends them to Redis from one writer greenlet, batched in pipelines, which
keeps each publisher's order (see ``relay``). A channel is subscribed when
its first local member joins and unsubscribed when the last one leaves, so
Redis sends a worker only what its members need; ``subscribe="pattern"``
keeps the one ``PSUBSCRIBE`` to every channel that earlier versions used
(every worker then gets every publish). The subscription reconnects with
backoff on its own. Needs gevent's monkey-patching (``python -m
sockjs_gevent`` and ``sockjs_gevent.cluster`` do it) so redis-py's sockets
cooperate with the event loop.

A process that publishes and then exits (a CLI command) calls
``channels.flush()`` first, so the writer sends before it is cut short.
"""

from __future__ import annotations

from typing import Any

from .hub import REDIS_URL_ENV  # noqa: F401 (the variable naming the server; defined with the hub)
from .relay import MAX_PENDING, RedisRelay, Subscriptions
from .subscriber import CHANNELS, PATTERNS, Subscriber

#: The ways a worker can subscribe.
SUBSCRIBE_MODES = ("channel", "pattern")


class RedisBackend(RedisRelay):
    """Channels across processes through Redis pub/sub at ``url``.

    - ``subscribe``: ``"channel"`` (a worker subscribes to each channel it
      has members in) or ``"pattern"`` (one pattern for every channel);
    - ``join_timeout``: how long a join waits for its channel's subscription;
    - ``presence_ttl``: how long a dead worker's members stay in ``presence()``;
    - ``ping_interval``: how often an idle subscription is pinged (a dead one
      is dropped after three silent intervals).
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "sockjs:",
        max_backoff: float = 5.0,
        max_pending: int = MAX_PENDING,
        subscribe: str = "channel",
        join_timeout: float = 1.0,
        presence_ttl: float = 15.0,
        ping_interval: float = 10.0,
    ) -> None:
        if subscribe not in SUBSCRIBE_MODES:
            raise ValueError(f"subscribe is 'channel' (the default) or 'pattern', got {subscribe!r}")
        super().__init__(url, prefix, max_backoff, max_pending, join_timeout, presence_ttl, ping_interval)
        self.subscribe_mode = subscribe
        self.follows_members = subscribe == "channel"

    def _make_client(self) -> Any:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One immediate retry (a pooled connection that went stale while Redis
        # restarted), then the error reaches our loops, which log it and back off.
        return redis.Redis.from_url(
            self.url,
            socket_connect_timeout=2.0,
            socket_timeout=10.0,
            health_check_interval=10,
            retry=Retry(NoBackoff(), 1),
        )

    def _make_subscriptions(self) -> Subscriptions:
        subscriber = Subscriber(
            self._subscriber_connection,
            CHANNELS if self.follows_members else PATTERNS,
            self._on_message,
            name=self.url,
            max_backoff=self.max_backoff,
            ping_interval=self.ping_interval,
            on_up=self._on_up,
        )
        if not self.follows_members:
            subscriber.want((self.prefix + "*").encode("utf-8", "surrogatepass"))
        return subscriber
