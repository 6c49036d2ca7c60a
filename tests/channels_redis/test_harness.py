"""The Redis channel test harness itself: hubs in subprocesses on one redis-server, and RedisCluster.

Against today's RedisBackend: a publish crosses hubs and reaches each member
once; a bad command is an ok:false reply and the hub keeps serving. The
cluster helpers: three masters cover every slot, a killed master's replica
takes over, a slot moves with its keys.
"""

from __future__ import annotations

import pytest
import redis

from testkit.redisservers import SLOTS, RedisCluster, RedisServer
from tests.channels_redis.conftest import ClusterFactory, HubsFactory

pytestmark = pytest.mark.cluster


def test_publish_reaches_every_member_on_both_hubs_once(redis_server: RedisServer, hubs: HubsFactory) -> None:
    a, b = hubs(redis_server.url)
    a.join("room", "m1")
    b.join("room", "m2")

    assert a.publish("room", "hello") == 1  # its own member, at once
    b.wait_delivered("m2", "hello")
    # b's publish reaches a after a's own "hello" has come back from Redis
    # (one subscription, Redis's order): any duplicate would be in by then.
    assert b.publish("room", "from b") == 1
    for hub, member in ((a, "m1"), (b, "m2")):
        assert hub.wait_delivered(member, "from b") == ["hello", "from b"]


def test_a_bad_command_is_an_error_reply_and_the_hub_keeps_serving(
    redis_server: RedisServer, hubs: HubsFactory
) -> None:
    (hub,) = hubs(redis_server.url, n=1)
    errors = {
        "unknown op": hub.call("no-such-op", check=False),
        "bad channel name": hub.call("publish", channel="", message="x", check=False),
        "not text": hub.call("publish", channel="room", message=42, check=False),
        "missing field": hub.call("join", channel="room", check=False),
    }
    assert {what: reply["ok"] for what, reply in errors.items()} == dict.fromkeys(errors, False)
    assert errors["bad channel name"]["error"].startswith("ValueError: ")
    assert errors["not text"]["error"].startswith("TypeError: ")
    with pytest.raises(AssertionError, match="failed: ValueError"):
        hub.call("no-such-op")

    hub.join("room", "m")
    assert hub.publish("room", "still here") == 1
    assert hub.deliveries("m") == ["still here"]
    assert hub.call("members", channel="room")["members"] == ["m"]
    hub.call("close", member="m")
    assert hub.publish("room", "gone") == 0


def test_cluster_has_three_masters_covering_every_slot(redis_cluster: RedisCluster) -> None:
    masters = redis_cluster.masters()
    assert len(masters) == 3 and len(redis_cluster.nodes) == 6
    table = redis_cluster.slot_table()
    assert sum(last - first + 1 for first, last, _, _ in table) == SLOTS
    assert {master for _, _, master, _ in table} == set(masters)
    assert all(len(redis_cluster.replicas_of(port)) == 1 for port in masters)
    for key in ("room", "{room}:presence", "other"):
        assert redis_cluster.slot_of(key) == redis_cluster.command(masters[0], "CLUSTER", "KEYSLOT", key)
    assert redis_cluster.slot_of("{room}:presence") == redis_cluster.slot_of("room")
    name = next(redis_cluster.names_on(masters[1]))
    assert redis_cluster.master_of_slot(redis_cluster.slot_of(name)) == masters[1]


def test_migrate_slot_moves_the_slot_and_its_keys(redis_cluster: RedisCluster) -> None:
    key = "{migrating}key"
    slot = redis_cluster.slot_of(key)
    source = redis_cluster.master_of_slot(slot)
    target = next(port for port in redis_cluster.masters() if port != source)
    redis_cluster.command(source, "SET", key, "value")
    try:
        redis_cluster.migrate_slot(slot, target)
        assert redis_cluster.master_of_slot(slot) == target
        assert {redis_cluster.slot_table(port) for port in redis_cluster.live_nodes} == {redis_cluster.slot_table()}
        assert redis_cluster.command(target, "GET", key) == b"value"
        with pytest.raises(redis.exceptions.MovedError, match=f"^{slot} 127.0.0.1:{target}$"):
            redis_cluster.command(source, "GET", key)
    finally:  # the module's cluster goes back as it was
        redis_cluster.migrate_slot(slot, source)
        redis_cluster.command(source, "DEL", key)
    assert redis_cluster.master_of_slot(slot) == source


def test_kill_a_master_and_its_replica_takes_over(redis_cluster_factory: ClusterFactory) -> None:
    cluster = redis_cluster_factory()
    dead = cluster.masters()[0]
    (replica,) = cluster.replicas_of(dead)
    slots = cluster.slots_of(dead)

    cluster.kill(dead)
    assert cluster.wait_for_failover(dead) == replica

    masters = cluster.masters()
    assert len(masters) == 3 and replica in masters and dead not in masters
    assert all(cluster.master_of_slot(first) == replica for first, _ in slots)
    assert dead not in cluster.live_nodes and cluster.url == f"redis://127.0.0.1:{cluster.live_nodes[0]}"
