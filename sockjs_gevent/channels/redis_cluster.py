"""A channel backend on a Redis Cluster: sharded pub/sub spreads channels over the masters.

Publishes go out with ``SPUBLISH`` and a worker ``SSUBSCRIBE``s, on the
master that owns each channel's hash slot, to the channels it has members
in: a publish travels to one shard and to the workers that need it, so
adding masters adds pub/sub capacity. Slot moves and failovers are
followed (``shards``); what is published to a shard while it has no
master (between a master's death and its replica's promotion, about the
cluster's node timeout plus a second) is lost for the other workers, as
for any publish while Redis is unreachable. Presence lives in the cluster
too: one hash per channel, ``<prefix>presence:<channel>``, in that key's
own slot (usually not the channel's, so often on another master).

``SOCKJS_GEVENT_REDIS_URL=redis+cluster://host:port`` makes the default hub
use it; any node of the cluster will do as the address.
"""

from __future__ import annotations

from typing import Any

from .relay import MAX_PENDING, RedisRelay, Subscriptions
from .shards import ShardedSubscriptions

#: The URL scheme ``default_hub`` reads as a cluster.
CLUSTER_SCHEME = "redis+cluster://"


class RedisClusterBackend(RedisRelay):
    """Channels across processes through a Redis Cluster's sharded pub/sub (``url``: any node).

    The options are ``RedisBackend``'s; the cluster is reached lazily, so a
    worker starts while it is down and connects when it answers.
    """

    publish_command = "spublish"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:7000",
        prefix: str = "sockjs:",
        max_backoff: float = 5.0,
        max_pending: int = MAX_PENDING,
        join_timeout: float = 1.0,
        presence_ttl: float = 15.0,
        ping_interval: float = 10.0,
    ) -> None:
        if url.startswith(CLUSTER_SCHEME):
            url = "redis://" + url[len(CLUSTER_SCHEME) :]
        super().__init__(url, prefix, max_backoff, max_pending, join_timeout, presence_ttl, ping_interval)

    def _make_client(self) -> Any:
        from redis.cluster import RedisCluster

        # Reads the slot map now: raises while the cluster is unreachable; the callers retry.
        return RedisCluster.from_url(self.url, socket_connect_timeout=2.0, socket_timeout=10.0)

    def _make_subscriptions(self) -> Subscriptions:
        return ShardedSubscriptions(
            self._get_client,
            self._node_connection,
            self._on_message,
            max_backoff=self.max_backoff,
            ping_interval=self.ping_interval,
            on_up=self._on_up,
        )

    def _node_connection(self, host: str, port: int) -> Any:
        """A subscriber's connection to one node (database 0: the only one a cluster has)."""
        return self._subscriber_connection(host=host, port=port, db=0)
