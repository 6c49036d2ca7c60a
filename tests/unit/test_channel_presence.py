"""Presence and the membership hooks of the hub, in one process (Redis: tests/channels_redis)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sockjs_gevent import channels
from sockjs_gevent.channels import ChannelHub, LocalBackend, RedisBackend, RedisClusterBackend
from sockjs_gevent.channels.hub import MAX_INFO_BYTES, backend_for_url


class FakeMember:
    """A channel member with no connection behind it."""

    def __init__(self, member_id: str) -> None:
        self.id = member_id
        self.closed = False
        self._callbacks: list[Callable[[Any], object]] = []

    def on_close(self, callback: Callable[[Any], object]) -> None:
        self._callbacks.append(callback)

    def send_quoted(self, message: str, quoted: str) -> bool:
        return True

    def close(self) -> None:
        self.closed = True
        for callback in self._callbacks:
            callback(self)


class RecordingBackend(LocalBackend):
    """An in-process backend that records the hub's membership hooks."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, ...]] = []

    def subscribe(self, key: str) -> None:
        self.calls.append(("subscribe", key))

    def unsubscribe(self, key: str) -> None:
        self.calls.append(("unsubscribe", key))

    def wait_subscribed(self, key: str) -> bool:
        self.calls.append(("wait", key))
        return True

    def add_presence(self, key: str, member_id: str, info: str) -> None:
        self.calls.append(("present", key, member_id, info))

    def remove_presence(self, key: str, member_id: str) -> None:
        self.calls.append(("absent", key, member_id))


def test_presence_in_process_is_the_local_members_with_their_info() -> None:
    hub = ChannelHub()
    room = hub.channel("room")
    ann, bob = FakeMember("a"), FakeMember("b")
    room.join(ann, info={"name": "ann"})
    room.join(bob)
    assert room.presence() == {"a": {"name": "ann"}, "b": None}
    assert room.count() == len(room) == 2
    room.join(bob, info="bob")  # joining again replaces the info
    assert room.presence()["b"] == "bob"
    assert len(room) == 2
    room.leave(ann)
    bob.close()
    assert room.presence() == {} and room.count() == 0


def test_presence_info_gives_back_a_json_copy() -> None:
    room = ChannelHub().channel("room")
    info = {"name": "ann", "tags": ["x"]}
    room.join(FakeMember("a"), info=info)
    info["name"] = "changed after joining"
    assert room.presence() == {"a": {"name": "ann", "tags": ["x"]}}


def test_info_json_cannot_encode_fails_at_join_saying_what_to_pass() -> None:
    room = ChannelHub().channel("room")
    member = FakeMember("a")
    with pytest.raises(TypeError, match="JSON-encodable value for presence"):
        room.join(member, info={"since": object()})
    assert len(room) == 0


def test_info_over_the_bound_fails_at_join() -> None:
    room = ChannelHub().channel("room")
    room.join(FakeMember("a"), info="x" * (MAX_INFO_BYTES - 2))  # the JSON quotes make it exactly the bound
    with pytest.raises(ValueError, match=f"at most {MAX_INFO_BYTES} bytes"):
        room.join(FakeMember("b"), info="x" * (MAX_INFO_BYTES - 1))
    assert [m.id for m in room.members] == ["a"]


def test_hooks_follow_the_first_and_last_local_member_and_the_direct_key() -> None:
    backend = RecordingBackend()
    hub = ChannelHub(backend)
    room = hub.channel("room")
    ann, bob = FakeMember("a"), FakeMember("b")
    room.join(ann, info="ann")
    room.join(bob)
    room.leave(ann)
    bob.close()
    assert backend.calls == [
        ("subscribe", "room"),
        ("subscribe", "\x01a"),
        ("present", "room", "a", '"ann"'),
        ("wait", "room"),
        ("wait", "\x01a"),
        ("subscribe", "\x01b"),
        ("present", "room", "b", "null"),
        ("wait", "room"),
        ("wait", "\x01b"),
        ("absent", "room", "a"),
        ("absent", "room", "b"),
        ("unsubscribe", "room"),
        ("unsubscribe", "\x01b"),
    ]


def test_a_closed_member_joins_nothing() -> None:
    backend = RecordingBackend()
    member = FakeMember("a")
    member.close()
    ChannelHub(backend).channel("room").join(member)
    assert backend.calls == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"subscribe": "channels"}, ValueError, "'channel' .* or 'pattern'"),
        ({"join_timeout": 0}, ValueError, "join_timeout is a positive number of seconds"),
        ({"presence_ttl": -1}, ValueError, "presence_ttl is a positive number of seconds"),
        ({"ping_interval": "10"}, ValueError, "ping_interval is a positive number of seconds"),
        ({"max_pending": 0}, ValueError, "max_pending is a positive number"),
        ({"prefix": b"sockjs:"}, TypeError, "prefix is a str"),
    ],
)
def test_redis_backend_options_are_checked_when_built(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        RedisBackend("redis://127.0.0.1:1/0", **kwargs)
    if "subscribe" not in kwargs:  # the cluster backend has every option but this one
        with pytest.raises(error, match=match):
            RedisClusterBackend("redis://127.0.0.1:1", **kwargs)


def test_a_redis_backend_refuses_to_start_without_monkey_patching() -> None:
    with pytest.raises(RuntimeError, match="monkey.patch_all"):
        ChannelHub(RedisBackend("redis://127.0.0.1:1/0"))


def test_the_url_scheme_picks_the_backend() -> None:
    assert isinstance(backend_for_url("redis://127.0.0.1:6379/0"), RedisBackend)
    cluster = backend_for_url("redis+cluster://127.0.0.1:7000")
    assert isinstance(cluster, RedisClusterBackend) and cluster.url == "redis://127.0.0.1:7000"


def test_presence_unavailable_is_a_connection_error() -> None:
    assert issubclass(channels.PresenceUnavailable, ConnectionError)


def test_channel_names_are_bounded_and_odd_characters_are_names_like_any() -> None:
    hub = ChannelHub()
    from sockjs_gevent.channels.hub import MAX_NAME_BYTES

    assert hub.channel("é" * (MAX_NAME_BYTES // 2)).name  # two bytes each: exactly the bound
    with pytest.raises(ValueError, match=f"at most {MAX_NAME_BYTES} bytes"):
        hub.channel("x" * (MAX_NAME_BYTES + 1))
    for name in ("{tag}room", "a*b?[c]", "line\nbreak", "\udc80lone surrogate", "🙂"):
        member = FakeMember(name)
        room = hub.channel(name)
        room.join(member, info=name)
        assert room.presence() == {name: name}
