"""Presence across workers on one redis-server: who is in a channel, a dead worker dropping out, outages.

Every hub is a real process; presence_ttl is short (1 s) so the staleness
bound is tested at its own scale.
"""

from __future__ import annotations

import time

import pytest
import redis

from testkit.redisservers import RedisServer
from testkit.serverproc import poll_until
from tests.channels_redis.conftest import HubsFactory
from tests.channels_redis.hubs import Hub

pytestmark = pytest.mark.cluster

TTL = 1.0


def presence(hub: Hub, channel: str = "room") -> dict[str, object]:
    return hub.call("presence", channel=channel)["presence"]


def fields(server: RedisServer, channel: str = "room") -> list[bytes]:
    """The raw fields of the channel's presence hash (``<worker id>:<member id>``)."""
    with redis.Redis.from_url(server.url) as client:
        return sorted(client.hkeys(f"sockjs:presence:{channel}"))


def test_presence_shows_every_workers_members_with_their_info(redis_server: RedisServer, hubs: HubsFactory) -> None:
    a, b = hubs(redis_server.url, presence_ttl=TTL)
    a.join("room", "ann", info={"name": "Ann"})
    b.join("room", "bob", info={"name": "Bob"})
    b.join("room", "cy")
    b.join("elsewhere", "dee")
    everyone = {"ann": {"name": "Ann"}, "bob": {"name": "Bob"}, "cy": None}
    assert a.call("flush")["flushed"] and b.call("flush")["flushed"]  # the presence writes are in Redis
    assert presence(a) == presence(b) == everyone
    assert a.call("members", channel="room")["members"] == ["ann"]  # members stay local

    b.join("room", "bob", info={"name": "Robert"})  # joining again replaces the info
    b.call("leave", channel="room", member="cy")
    a.call("close", member="ann")
    assert b.call("flush")["flushed"] and a.call("flush")["flushed"]
    assert presence(a) == presence(b) == {"bob": {"name": "Robert"}}
    assert len(fields(redis_server)) == 1


def test_a_killed_worker_drops_out_within_the_ttl(redis_server: RedisServer, hubs: HubsFactory) -> None:
    a, b = hubs(redis_server.url, presence_ttl=TTL)
    a.join("room", "stays")
    b.join("room", "dies")
    assert b.call("flush")["flushed"]
    assert set(presence(a)) == {"stays", "dies"}
    b.kill()
    killed = time.monotonic()
    poll_until(lambda: set(presence(a)) == {"stays"}, 5 * TTL, "the dead worker's member to drop out", 0.05)
    gone_after = time.monotonic() - killed
    assert gone_after <= TTL + 0.5, f"dropped out after {gone_after:.2f} s, TTL {TTL} s"
    # The read that found the worker dead deleted its fields.
    assert len(fields(redis_server)) == 1


def test_after_a_redis_restart_each_worker_writes_its_members_again(
    redis_server: RedisServer, hubs: HubsFactory
) -> None:
    a, b = hubs(redis_server.url, presence_ttl=TTL, max_backoff=0.2)
    a.join("room", "ann", info="Ann")
    a.join("room", "leaves-while-down")
    b.join("room", "bob", info="Bob")
    assert a.call("flush")["flushed"] and b.call("flush")["flushed"]
    mark = a.log_mark()
    redis_server.stop()
    a.wait_log("redis subscription lost on", start=mark)
    # Down: presence cannot be read, says so, and the hub keeps serving.
    refused = a.call("presence", channel="room", check=False)
    assert not refused["ok"] and refused["error"].startswith("PresenceUnavailable: presence of channel 'room'")
    a.call("close", member="leaves-while-down")  # a leave Redis does not hear of now
    assert a.publish("room", "local") == 1

    redis_server.start()  # empty: no presence, no worker keys
    for hub in (a, b):
        assert hub.call("connected", wait=10.0)["connected"]
    want = {"ann": "Ann", "bob": "Bob"}
    poll_until(lambda: presence(a) == want and presence(b) == want, 10.0, "presence written again", 0.05)


def test_a_leave_whose_write_failed_is_taken_back_once_redis_takes_writes(
    redis_server: RedisServer, hubs: HubsFactory
) -> None:
    a, b = hubs(redis_server.url, presence_ttl=TTL, max_backoff=0.2)
    a.join("room", "x")
    a.join("room", "y")
    assert a.call("flush")["flushed"]
    mark = a.log_mark()
    with redis.Redis.from_url(redis_server.url) as client:
        client.execute_command("ACL", "SETUSER", "default", "-hdel")  # Redis refuses the leave's write
        a.call("close", member="y")
        a.wait_log("redis write failed .*NoPermissionError", start=mark)
        assert set(presence(b)) == {"x", "y"}  # Redis still lists y
        client.execute_command("ACL", "SETUSER", "default", "+hdel")
    poll_until(lambda: set(presence(b)) == {"x"}, 10.0, "y's leave to reach Redis", 0.05)
    assert len(fields(redis_server)) == 1
