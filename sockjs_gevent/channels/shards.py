"""Sharded subscriptions on a Redis Cluster: one ``Subscriber`` per master, each channel on its slot's owner.

A channel goes to the master that owns its hash slot, subscribed with
``SSUBSCRIBE``. When a node's connection fails (a master killed) or Redis
ends a subscription itself (its slot moved away) or refuses one (``MOVED``),
the cluster's slot map is read again, in one refresher greenlet, and every
wanted channel is moved to its owner now: after a failover, to the replica
that took over. Until the map changes, the old owner's subscriber keeps
retrying with backoff, and each failure asks for another refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event

from .subscriber import SHARDS, MessageFn, Subscriber, describe

log = logging.getLogger("sockjs_gevent.channels.redis")


class ShardedSubscriptions:
    """The ``Subscriptions`` of ``RedisClusterBackend``: channels spread over the masters by slot."""

    def __init__(
        self,
        cluster: Callable[[], Any],
        connect: Callable[[str, int], Any],
        on_message: MessageFn,
        *,
        max_backoff: float,
        ping_interval: float,
        on_up: Callable[[], None],
    ) -> None:
        #: Returns the redis-py ``RedisCluster`` (its slot map), or raises while the cluster is unreachable.
        self._cluster = cluster
        #: Builds an unconnected connection to one node.
        self._connect = connect
        self._on_message = on_message
        self.max_backoff = max_backoff
        self.ping_interval = ping_interval
        self._on_up = on_up
        self.wanted: set[bytes] = set()
        #: node name ("host:port") -> its subscriber
        self._nodes: dict[str, Subscriber] = {}
        #: channel -> the node name it is subscribed on
        self._placed: dict[bytes, str] = {}
        #: channel -> the node Redis ended or refused it on (for the next remap's count of moves)
        self._revoked_from: dict[bytes, str] = {}
        self._refresh = Event()
        self._greenlet: gevent.Greenlet | None = None
        self._mapped = False
        self._retired_received = 0
        self._retired_bytes = 0
        #: Set while the slot map is known and every node's subscriber is connected.
        self.connected = Event()

    @property
    def received(self) -> int:
        return self._retired_received + sum(node.received for node in self._nodes.values())

    @property
    def received_bytes(self) -> int:
        return self._retired_bytes + sum(node.received_bytes for node in self._nodes.values())

    def count(self) -> int:
        return len(self.wanted)

    def start(self) -> None:
        self._refresh.set()
        self._greenlet = gevent.spawn(self._refresh_loop)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None
        for node in self._nodes.values():
            node.stop()
        self._nodes.clear()
        self.connected.clear()

    def want(self, channel: bytes) -> None:
        if channel in self.wanted:
            return
        self.wanted.add(channel)
        if self._mapped:
            self._place(channel)

    def drop(self, channel: bytes) -> None:
        self.wanted.discard(channel)
        name = self._placed.pop(channel, None)
        if name is not None:
            self._nodes[name].drop(channel)

    def wait(self, channel: bytes, timeout: float) -> bool:
        name = self._placed.get(channel)
        if name is None:
            return False
        return self._nodes[name].wait(channel, timeout)

    # -- placement ---------------------------------------------------------------

    def _owner(self, channel: bytes) -> str:
        cluster = self._cluster()
        node = cluster.nodes_manager.get_node_from_slot(cluster.keyslot(channel))
        return str(node.name)

    def _place(self, channel: bytes) -> None:
        name = self._owner(channel)
        old = self._placed.get(channel)
        if old == name:
            return
        if old is not None:
            self._nodes[old].drop(channel)
        self._placed[channel] = name
        self._node(name).want(channel)

    def _node(self, name: str) -> Subscriber:
        node = self._nodes.get(name)
        if node is None:
            host, _, port = name.rpartition(":")
            node = self._nodes[name] = Subscriber(
                lambda: self._connect(host, int(port)),
                SHARDS,
                self._on_message,
                name=name,
                max_backoff=self.max_backoff,
                ping_interval=self.ping_interval,
                on_up=self._node_up,
                on_down=self._node_down,
                on_revoked=lambda channel: self._revoked(name, channel),
            )
            node.start()
            self.connected.clear()
        return node

    def _node_up(self) -> None:
        self._update_connected()
        self._on_up()

    def _node_down(self, exc: BaseException) -> None:
        self.connected.clear()
        self._refresh.set()

    def _revoked(self, name: str, channel: bytes) -> None:
        """Redis ended or refused ``channel`` on node ``name``: find its owner again."""
        if self._placed.get(channel) == name:
            del self._placed[channel]
            self._nodes[name].drop(channel)
            self._revoked_from[channel] = name
        self._refresh.set()

    def _update_connected(self) -> None:
        if self._mapped and all(node.connected.is_set() for node in self._nodes.values()):
            self.connected.set()
        else:
            self.connected.clear()

    # -- the refresher ------------------------------------------------------------

    def _refresh_loop(self) -> None:
        backoff = 0.1
        while True:
            # While a node is down, read the slot map every second: a failover shows up there.
            self._refresh.wait(None if self.connected.is_set() else 1.0)
            self._refresh.clear()
            try:
                self._remap()
                backoff = 0.1
            except Exception as exc:  # noqa: BLE001 (this greenlet must outlive any error)
                log.warning("redis cluster slot map unavailable (%s); retrying in %.1f s", describe(exc), backoff)
                gevent.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                self._refresh.set()

    def _remap(self) -> None:
        """Read the slot map and put every wanted channel on its owner; retire nodes left with none."""
        cluster = self._cluster()
        if self._mapped:
            cluster.nodes_manager.initialize()
        self._mapped = True
        moved = 0
        revoked, self._revoked_from = self._revoked_from, {}
        for channel in list(self.wanted):
            before = self._placed.get(channel) or revoked.get(channel)
            self._place(channel)
            moved += before is not None and self._placed[channel] != before
        for name, node in list(self._nodes.items()):
            if not node.wanted:
                node.stop()
                self._retired_received += node.received
                self._retired_bytes += node.received_bytes
                del self._nodes[name]
        if moved:
            log.info("redis cluster slots moved: %d channel(s) now subscribed on their new owner", moved)
        self._update_connected()
