"""Channels: named groups of connections; a publish reaches every member.

The hub keeps this process's members and delivers to them; a backend
carries publishes between processes (in-process by default, Redis for a
cluster). Delivery quotes a message once and hands the same string to every
member's outbox, so a publish never waits on a slow member.

A member is anything that behaves like a ``Connection`` for this purpose:
``id``, ``closed``, ``on_close(callback)`` and ``send_quoted(message,
quoted)``. A connection that has joined any channel can also be sent to by
its id (``send_to``), from any process.

A backend that spans processes may follow local membership (``subscribe``
/ ``unsubscribe``: Redis then sends a worker only the channels it has
members in) and keep presence across processes (``add_presence`` /
``remove_presence`` / ``presence``); the hub calls these when the backend
has them, and answers presence from its own members otherwise.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from .. import protocol

log = logging.getLogger("sockjs_gevent.channels")

#: Environment variable that makes the process-wide hub use Redis.
REDIS_URL_ENV = "SOCKJS_GEVENT_REDIS_URL"

#: Separates a channel's scope (a service's path) from its name in the key
#: the backend carries; no path or name a user writes contains it.
_SCOPE_SEPARATOR = "\x00"
#: Key prefix of the private channel that reaches one connection by id.
_DIRECT = "\x01"
#: The most a member's presence info may take, as JSON text in UTF-8.
MAX_INFO_BYTES = 2048
#: The longest channel name, in UTF-8 (a name is a Redis channel and key with Redis).
MAX_NAME_BYTES = 16384


class Member(Protocol):
    """What the hub needs of a channel member (``Connection`` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def closed(self) -> bool: ...

    def on_close(self, callback: Callable[[Member], object]) -> None: ...

    def send_quoted(self, message: str, quoted: str) -> bool: ...


class DeliverFn(Protocol):
    def __call__(self, channel: str, message: str, exclude: str | None = None) -> int: ...


class Backend(Protocol):
    """Carries publishes to every process's hub (including this one).

    A backend that sends in the background may also have ``flush(timeout)
    -> bool`` (see ``ChannelHub.flush``).
    """

    def start(self, deliver: DeliverFn) -> None:
        """Begin; call ``deliver(channel, message, exclude)`` for each publish to deliver locally."""

    def publish(self, channel: str, message: str, exclude: str | None = None) -> int:
        """Send ``message`` to ``channel`` everywhere, skipping the member whose id is ``exclude``.

        Returns how many members of this process it was queued for now
        (what ``deliver`` returned), 0 if local delivery happens later.
        """

    def stop(self) -> None:
        """Release connections and greenlets."""


class LocalBackend:
    """Everything in one process: a publish is a local delivery."""

    def __init__(self) -> None:
        self._deliver: DeliverFn | None = None

    def start(self, deliver: DeliverFn) -> None:
        self._deliver = deliver

    def publish(self, channel: str, message: str, exclude: str | None = None) -> int:
        assert self._deliver is not None, "backend not started"
        return self._deliver(channel, message, exclude)

    def stop(self) -> None:
        self._deliver = None


def _check_text(message: object) -> None:
    if not isinstance(message, str):
        raise TypeError(
            f"channel messages are text: publish() takes str, got {type(message).__name__} "
            "(publish_json() sends a value as JSON text)"
        )


def _json_message(value: Any) -> str:
    """``value`` as the compact JSON text ``publish_json`` sends (``protocol.json_text``).

    What JSON cannot encode is a TypeError or ValueError saying what to pass instead.
    """
    try:
        return protocol.json_text(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(
            f"publish_json() cannot encode the value as JSON ({exc}): give it dicts, lists, "
            "str, numbers, booleans and None (e.g. list(a_set), a_datetime.isoformat()), or encode the value "
            "yourself and publish() the text"
        ) from exc


class Channel:
    """One named channel, as seen from this process."""

    __slots__ = ("name", "key", "_hub")

    def __init__(self, hub: ChannelHub, name: str, key: str) -> None:
        #: The name it was asked for by.
        self.name = name
        #: The name with its scope: what the backend carries.
        self.key = key
        self._hub = hub

    def join(self, conn: Member, info: Any = None) -> None:
        """Add ``conn``; it leaves by itself when it closes.

        ``info`` is what ``presence()`` shows for it to everyone: small,
        public, JSON-encodable (a user name, say; at most ``MAX_INFO_BYTES``
        as JSON). Joining again replaces it. With a backend across
        processes, ``join`` returns once publishes from every process reach
        ``conn`` (at most the backend's ``join_timeout``, and at once while
        it is disconnected).
        """
        self._hub.join(self.key, conn, info)

    def leave(self, conn: Member) -> None:
        self._hub.leave(self.key, conn)

    def publish(self, message: str, exclude: Member | str | None = None) -> int:
        """Send ``message`` to every member, in every process of the backend.

        ``exclude`` (a connection or its id) is skipped: the sender of a
        chat line, say. Returns how many members of this process it was
        queued for; with Redis, members on other workers get it a moment
        later and are not counted.
        """
        _check_text(message)
        return self._hub.backend.publish(self.key, message, _member_id(exclude)) or 0

    def publish_json(self, value: Any, exclude: Member | str | None = None) -> int:
        """Publish ``value`` as JSON text (what ``conn.recv_json()`` and the browser's ``JSON.parse`` decode).

        As ``publish``; a value JSON cannot encode raises at once.
        """
        return self.publish(_json_message(value), exclude)

    @property
    def members(self) -> list[Member]:
        """This process's members (a property: ``room.members``)."""
        return self._hub.members(self.key)

    def presence(self, timeout: float = 2.0) -> dict[str, Any]:
        """Who is in the channel in every process: member id -> the ``info`` it joined with.

        In-process, this process's members. With Redis, every worker's,
        asked of Redis (one round trip or two, waited for at most
        ``timeout`` seconds); a worker that died drops out within the
        backend's ``presence_ttl``. Raises ``PresenceUnavailable`` when the
        backend cannot answer (Redis down).
        """
        return self._hub.presence(self.key, timeout)

    def count(self, timeout: float = 2.0) -> int:
        """How many members the channel has in every process (``len(presence())``); ``len()`` is this process's."""
        return len(self.presence(timeout))

    def __len__(self) -> int:
        """This process's members only (``count()`` asks every process)."""
        return self._hub.count(self.key)

    def __contains__(self, conn: Member) -> bool:
        return self._hub.is_member(self.key, conn)

    def __repr__(self) -> str:
        return f"<Channel {self.name!r} with {len(self)} local members>"


class PresenceUnavailable(ConnectionError):
    """``presence()`` could not be answered: the backend's store (Redis) did not reply in time."""


def _info_text(info: Any) -> str:
    """``info`` as the JSON text presence stores; a TypeError or ValueError saying what to pass instead."""
    try:
        text = protocol.json_text(info)
    except (TypeError, ValueError) as exc:
        raise type(exc)(
            f"join(conn, info=...) takes a JSON-encodable value for presence ({exc}): dicts, lists, "
            "str, numbers, booleans or None"
        ) from exc
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_INFO_BYTES:
        raise ValueError(
            f"presence info is at most {MAX_INFO_BYTES} bytes as JSON, got {size}: attach a name or an id "
            "and keep the rest elsewhere"
        )
    return text


def _member_id(member: Member | str | None) -> str | None:
    if member is None or isinstance(member, str):
        return member
    return member.id


class ChannelHub:
    """The channels of one process, delivered through ``backend``."""

    def __init__(self, backend: Backend | None = None) -> None:
        self.backend: Backend = backend if backend is not None else LocalBackend()
        # channel key -> members and their presence info as JSON text (a dict keeps join order)
        self._members: dict[str, dict[Member, str]] = {}
        # member -> the keys of its channels; member id -> member
        self._rooms: dict[Member, dict[str, None]] = {}
        self._by_id: dict[str, Member] = {}
        hooks = self.backend
        self._subscribe: Callable[[str], None] | None = getattr(hooks, "subscribe", None)
        self._unsubscribe: Callable[[str], None] | None = getattr(hooks, "unsubscribe", None)
        self._wait_subscribed: Callable[[str], bool] | None = getattr(hooks, "wait_subscribed", None)
        self._add_presence: Callable[[str, str, str], None] | None = getattr(hooks, "add_presence", None)
        self._remove_presence: Callable[[str, str], None] | None = getattr(hooks, "remove_presence", None)
        self._presence: Callable[[str, float], dict[str, str]] | None = getattr(hooks, "presence", None)
        self.backend.start(self.deliver)

    def channel(self, name: str, scope: str = "") -> Channel:
        """The channel called ``name`` (created on first use).

        Channels of different ``scope`` (a service's path: ``conn.channel``
        uses it) are different channels, whatever their names.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"channel names are non-empty strings, got {name!r}")
        if _SCOPE_SEPARATOR in name or name.startswith(_DIRECT):
            raise ValueError(f"channel names cannot contain control characters \\x00 or start with \\x01: {name!r}")
        size = len(name.encode("utf-8", "surrogatepass"))
        if size > MAX_NAME_BYTES:
            raise ValueError(f"channel names are at most {MAX_NAME_BYTES} bytes in UTF-8, got {size}: {name[:40]!r}...")
        return Channel(self, name, f"{scope}{_SCOPE_SEPARATOR}{name}" if scope else name)

    def channels(self) -> Iterator[str]:
        """Keys of channels with members in this process."""
        return iter(list(self._members))

    def send_to(self, conn_id: str, message: str) -> None:
        """Send ``message`` to the connection with id ``conn_id``, in whichever process it is.

        The connection must have joined a channel (any); otherwise nothing
        happens, as for an id that closed.
        """
        _check_text(message)
        self.backend.publish(_DIRECT + conn_id, message)

    def rooms_of(self, conn: Member) -> list[str]:
        """The names of the channels ``conn`` has joined, in joining order."""
        return [key.rpartition(_SCOPE_SEPARATOR)[2] for key in self._rooms.get(conn, ())]

    def deliver(self, channel: str, message: str, exclude: str | None = None) -> int:
        """Queue ``message`` for every local member of ``channel`` but ``exclude``; returns how many."""
        if channel.startswith(_DIRECT):
            member = self._by_id.get(channel[1:])
            if member is None:
                return 0
            return int(member.send_quoted(message, protocol.quote(message)))
        members = self._members.get(channel)
        if not members:
            return 0
        quoted = protocol.quote(message)
        count = 0
        for member in list(members):
            if exclude is None or member.id != exclude:
                member.send_quoted(message, quoted)
                count += 1
        return count

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the publishes made so far have left this process; whether they did within ``timeout``.

        For a process that publishes and then exits (a CLI command, a cron
        job): the Redis backend sends from a background greenlet, which
        exiting would cut short. True at once in-process.
        """
        flush: Callable[[float], bool] | None = getattr(self.backend, "flush", None)
        return True if flush is None else flush(timeout)

    def stop(self) -> None:
        self.backend.stop()

    # -- membership ----------------------------------------------------------

    def join(self, key: str, member: Member, info: Any = None) -> None:
        text = _info_text(info)
        if member.closed:
            return
        members = self._members.get(key)
        if members is None:
            members = self._members[key] = {}
            if self._subscribe is not None:
                self._subscribe(key)
        if members.get(member) == text:
            return
        members[member] = text
        rooms = self._rooms.get(member)
        if rooms is None:
            # First channel: one close callback does every channel's leaving.
            rooms = self._rooms[member] = {}
            self._by_id[member.id] = member
            member.on_close(self._forget)
            if self._subscribe is not None:
                self._subscribe(_DIRECT + member.id)
        rooms[key] = None
        if self._add_presence is not None:
            self._add_presence(key, member.id, text)
        if self._wait_subscribed is not None and self._wait_subscribed(key):
            self._wait_subscribed(_DIRECT + member.id)

    def leave(self, key: str, member: Member) -> None:
        members = self._members.get(key)
        if members is not None and member in members:
            del members[member]
            if self._remove_presence is not None:
                self._remove_presence(key, member.id)
            if not members:
                del self._members[key]
                if self._unsubscribe is not None:
                    self._unsubscribe(key)
        rooms = self._rooms.get(member)
        if rooms is not None:
            rooms.pop(key, None)

    def _forget(self, member: Member) -> None:
        for key in self._rooms.pop(member, ()):
            self.leave(key, member)
        if self._by_id.get(member.id) is member:
            del self._by_id[member.id]
            if self._unsubscribe is not None:
                self._unsubscribe(_DIRECT + member.id)

    def members(self, key: str) -> list[Member]:
        return list(self._members.get(key, ()))

    def presence(self, key: str, timeout: float = 2.0) -> dict[str, Any]:
        """Member id -> info of ``key``'s members in every process (this one's without a presence backend)."""
        if self._presence is None:
            texts = {member.id: text for member, text in self._members.get(key, {}).items()}
        else:
            texts = self._presence(key, timeout)
        return {member_id: json.loads(text) for member_id, text in texts.items()}

    def count(self, key: str) -> int:
        return len(self._members.get(key, ()))

    def is_member(self, key: str, member: Member) -> bool:
        return member in self._members.get(key, ())


_default_hub: ChannelHub | None = None


def default_hub() -> ChannelHub:
    """The process-wide hub ``channel()`` uses.

    In-process, unless ``configure()`` was called or the environment
    variable SOCKJS_GEVENT_REDIS_URL names a Redis server (as the cluster
    runner sets it for its workers) or, as ``redis+cluster://host:port``, a
    Redis Cluster.
    """
    global _default_hub
    if _default_hub is None:
        url = os.environ.get(REDIS_URL_ENV)
        _default_hub = ChannelHub(backend_for_url(url) if url else None)
    return _default_hub


def backend_for_url(url: str) -> Backend:
    """The Redis backend ``url`` names: ``redis+cluster://`` a Redis Cluster, ``redis://`` (and the rest) one server."""
    from .redis import RedisBackend
    from .redis_cluster import CLUSTER_SCHEME, RedisClusterBackend

    if url.startswith(CLUSTER_SCHEME):
        return RedisClusterBackend(url)
    return RedisBackend(url)


def configure(backend: Backend) -> ChannelHub:
    """Make the process-wide hub use ``backend`` (e.g. RedisBackend(url))."""
    global _default_hub
    if _default_hub is not None:
        _default_hub.stop()
    _default_hub = ChannelHub(backend)
    return _default_hub


def channel(name: str, scope: str = "") -> Channel:
    """The channel ``name`` on the process-wide hub (``scope``: see ``ChannelHub.channel``)."""
    return default_hub().channel(name, scope)


def send_to(conn_id: str, message: str) -> None:
    """Send ``message`` to one connection by its ``conn.id``, on whichever worker it is."""
    default_hub().send_to(conn_id, message)


def flush(timeout: float = 5.0) -> bool:
    """Before a process that published exits: wait until its publishes have left (see ``ChannelHub.flush``)."""
    return default_hub().flush(timeout)


def rooms_of(conn: Member) -> list[str]:
    """The names of the channels ``conn`` has joined."""
    return default_hub().rooms_of(conn)


def wait_for_bus(timeout: float = 5.0) -> bool:
    """Before serving: wait until the process's channel bus is subscribed (``SOCKJS_GEVENT_REDIS_URL``).

    So no broadcast published right after start is missed by this process.
    True at once without Redis; False (and a warning) if Redis did not
    answer in ``timeout`` seconds: serving goes on and the backend keeps
    retrying.
    """
    if not os.environ.get(REDIS_URL_ENV):
        return True
    connected = getattr(default_hub().backend, "connected", None)
    if connected is None or connected.wait(timeout):
        return True
    logging.getLogger("sockjs_gevent").warning("Redis not reachable yet; serving anyway, will keep retrying")
    return False
