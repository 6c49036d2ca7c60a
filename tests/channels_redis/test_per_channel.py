"""Per-channel subscriptions on one redis-server: a worker receives only the channels it has members in.

Each hub is a real process (hubproc) on a real redis-server; Redis's own
view (``PUBSUB NUMSUB``/``CHANNELS``) says who is subscribed to what.
"""

from __future__ import annotations

import time

import pytest
import redis

from testkit.redisservers import RedisServer, free_port
from testkit.serverproc import poll_until
from tests.channels_redis.conftest import HubsFactory

pytestmark = pytest.mark.cluster

PREFIX = b"sockjs:"


def subscribers(server: RedisServer, channel: str) -> int:
    """How many connections Redis has subscribed to ``channel`` (by name)."""
    with redis.Redis.from_url(server.url) as client:
        return int(client.pubsub_numsub(PREFIX + channel.encode("utf-8", "surrogatepass"))[0][1])


def subscribed_channels(server: RedisServer) -> set[bytes]:
    with redis.Redis.from_url(server.url) as client:
        return {name[len(PREFIX) :] for name in client.pubsub_channels(PREFIX + b"*")}


def test_a_worker_receives_only_the_channels_it_has_members_in(redis_server: RedisServer, hubs: HubsFactory) -> None:
    a, b = hubs(redis_server.url)
    a.join("mine", "m1")
    for n in range(50):
        b.publish(f"elsewhere-{n}", "not for a")
    b.publish("mine", "for a")
    a.wait_delivered("m1", "for a")
    b.call("flush")
    a.call("ping")
    # Redis sent a the one publish of its channel, nothing of the 50 others.
    assert a.call("stats")["stats"]["received"] == 1
    assert a.deliveries() == ["for a"]
    assert subscribed_channels(redis_server) == {b"mine", b"\x01m1"}


def test_in_pattern_mode_every_worker_receives_every_publish(redis_server: RedisServer, hubs: HubsFactory) -> None:
    a, b = hubs(redis_server.url, subscribe="pattern")
    a.join("mine", "m1")
    for n in range(10):
        b.publish(f"elsewhere-{n}", "not for a")
    b.publish("mine", "for a")
    a.wait_delivered("m1", "for a")
    assert a.call("stats")["stats"]["received"] == 11
    assert subscribed_channels(redis_server) == set()  # one PSUBSCRIBE, no channel subscription


def test_pattern_and_per_channel_workers_share_one_redis(redis_server: RedisServer, hubs: HubsFactory) -> None:
    (old,) = hubs(redis_server.url, n=1, subscribe="pattern")
    (new,) = hubs(redis_server.url, n=1)
    old.join("room", "o")
    new.join("room", "n")
    old.publish("room", "from old")
    new.publish("room", "from new")
    for hub, member in ((old, "o"), (new, "n")):
        assert sorted(hub.wait_delivered(member, ["from old", "from new"])) == ["from new", "from old"]


def test_a_publish_right_after_join_returns_reaches_the_new_member(
    redis_server: RedisServer, hubs: HubsFactory
) -> None:
    a, b = hubs(redis_server.url)
    for n in range(30):
        a.join(f"fresh-{n}", f"m{n}")  # returns once Redis acknowledged the subscription
        b.publish(f"fresh-{n}", f"hello {n}")
    for n in range(30):
        assert a.wait_delivered(f"m{n}", f"hello {n}") == [f"hello {n}"]


def test_the_last_leave_unsubscribes_and_a_rejoin_subscribes_again(
    redis_server: RedisServer, hubs: HubsFactory
) -> None:
    a, b = hubs(redis_server.url)
    a.join("room", "m1")
    a.join("room", "m2")
    a.call("leave", channel="room", member="m1")
    assert subscribers(redis_server, "room") == 1  # m2 is still in it
    a.call("close", member="m2")  # the last one: closing leaves every channel
    poll_until(lambda: subscribers(redis_server, "room") == 0, 5.0, "room's subscription to end")
    poll_until(lambda: subscribers(redis_server, "\x01m2") == 0, 5.0, "m2's private channel to end")
    b.publish("room", "nobody here")
    assert b.call("flush")["flushed"]  # in Redis before a subscribes again
    # Leave and join again between two batches, then once more after the unsubscribe.
    a.join("room", "m3")
    a.call("leave", channel="room", member="m3")
    a.join("room", "m3")
    b.publish("room", "back")
    assert a.wait_delivered("m3", "back") == ["back"]
    assert subscribers(redis_server, "room") == 1
    assert "nobody here" not in a.deliveries()


def test_send_to_reaches_a_connection_on_another_worker(redis_server: RedisServer, hubs: HubsFactory) -> None:
    a, b = hubs(redis_server.url)
    a.join("room", "target")
    b.call("send_to", member="target", message="psst")
    b.call("send_to", member="nobody", message="lost")
    assert a.wait_delivered("target", "psst") == ["psst"]


@pytest.mark.parametrize(
    "name",
    ["x" * 10_000, "{tag}room", "a*b?[c]", "line\nbreak", "tab\tand space", "\udc80lone surrogate", "🙂 é"],
    ids=["10KB", "hash-tag", "glob", "newline", "whitespace", "surrogate", "non-ascii"],
)
def test_odd_and_long_channel_names_cross_workers(redis_server: RedisServer, hubs: HubsFactory, name: str) -> None:
    a, b = hubs(redis_server.url)
    a.join(name, "m", info={"name": name[:100]})
    b.publish(name, "odd")
    assert a.wait_delivered("m", "odd") == ["odd"]
    assert a.call("flush")["flushed"]  # a's presence write is in Redis
    assert b.call("presence", channel=name)["presence"] == {"m": {"name": name[:100]}}


def test_redis_restart_resubscribes_what_is_wanted_now(redis_server: RedisServer, hubs: HubsFactory) -> None:
    a, b = hubs(redis_server.url, max_backoff=0.2, join_timeout=5.0)
    a.join("kept", "k")
    a.join("left", "l")
    mark = a.log_mark()
    redis_server.stop()
    a.wait_log("redis subscription lost on", start=mark)
    # While Redis is down: a join does not wait for Redis, a leave is remembered.
    started = time.monotonic()
    a.join("joined-meanwhile", "j")
    assert time.monotonic() - started < 2.0  # far below join_timeout
    a.call("close", member="l")
    assert a.publish("joined-meanwhile", "local") == 1  # local delivery goes on

    mark = a.log_mark()
    redis_server.start()  # the same port
    a.wait_log("subscribed to 4 channel", start=mark)  # kept, joined-meanwhile, and their members' ids
    assert b.call("connected", wait=10.0)["connected"]
    assert subscribed_channels(redis_server) >= {b"kept", b"joined-meanwhile"}
    assert b"left" not in subscribed_channels(redis_server)
    b.publish("joined-meanwhile", "after")
    b.publish("kept", "after")
    a.wait_delivered("j", ["local", "after"])
    a.wait_delivered("k", "after")


def test_redis_down_at_start_serves_locally_then_connects(hubs: HubsFactory) -> None:
    server = RedisServer(free_port())  # a port of its own (kept if taken), no server yet
    try:
        (a,) = hubs(server.url, n=1, expect_connected=False, ready_timeout=0.5, max_backoff=0.2)
        a.wait_log(r"redis subscription lost on redis://127\.0\.0\.1:\d+/0 \(ConnectionError: .*Connection refused")
        a.join("room", "m")
        assert a.publish("room", "local while down") == 1
        server.start()
        assert a.call("connected", wait=10.0)["connected"], a.log_tail()
        (b,) = hubs(server.url, n=1)
        b.publish("room", "across")
        assert a.wait_delivered("m", ["local while down", "across"]) == ["local while down", "across"]
    finally:
        server.stop()
