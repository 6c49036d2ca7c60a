"""Channels: named groups of connections; a publish reaches every member.

The hub keeps this process's members and delivers to them; a backend
carries publishes between processes (in-process by default, Redis for a
cluster). Delivery quotes a message once and hands the same string to every
member's outbox, so a publish never waits on a slow member.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Iterator, Optional, Protocol

from .. import protocol
from ..connection import Connection

if TYPE_CHECKING:  # pragma: no cover
    from ..session import Session

log = logging.getLogger("sockjs_gevent.channels")

#: Environment variable that makes the process-wide hub use Redis.
REDIS_URL_ENV = "SOCKJS_GEVENT_REDIS_URL"


class Backend(Protocol):
    """Carries publishes to every process's hub (including this one)."""

    def start(self, deliver: "DeliverFn") -> None:
        """Begin; call ``deliver(channel, message)`` for each publish to deliver locally."""

    def publish(self, channel: str, message: str) -> None:
        """Send ``message`` to ``channel`` everywhere; must not block for long."""

    def stop(self) -> None:
        """Release connections and greenlets."""


class DeliverFn(Protocol):
    def __call__(self, channel: str, message: str) -> int: ...


class LocalBackend:
    """Everything in one process: a publish is a local delivery."""

    def __init__(self) -> None:
        self._deliver: Optional[DeliverFn] = None

    def start(self, deliver: DeliverFn) -> None:
        self._deliver = deliver

    def publish(self, channel: str, message: str) -> None:
        assert self._deliver is not None, "backend not started"
        self._deliver(channel, message)

    def stop(self) -> None:
        self._deliver = None


class Channel:
    """One named channel, as seen from this process."""

    __slots__ = ("name", "_hub")

    def __init__(self, hub: "ChannelHub", name: str) -> None:
        self.name = name
        self._hub = hub

    def join(self, conn: Connection) -> None:
        """Add ``conn``; it leaves by itself when its session closes."""
        self._hub._join(self.name, conn)

    def leave(self, conn: Connection) -> None:
        self._hub._leave(self.name, conn._session)

    def publish(self, message: str) -> None:
        """Send ``message`` to every member, in every process of the backend."""
        if not isinstance(message, str):
            raise TypeError(f"channel messages are text: publish() takes str, got {type(message).__name__}")
        self._hub.backend.publish(self.name, message)

    @property
    def members(self) -> list[Connection]:
        """This process's members (their connections)."""
        return [s.connection for s in self._hub._members.get(self.name, ()) if s.connection is not None]

    def __len__(self) -> int:
        return len(self._hub._members.get(self.name, ()))

    def __contains__(self, conn: Connection) -> bool:
        return conn._session in self._hub._members.get(self.name, ())

    def __repr__(self) -> str:
        return f"<Channel {self.name!r} with {len(self)} local members>"


class ChannelHub:
    """The channels of one process, delivered through ``backend``."""

    def __init__(self, backend: Optional[Backend] = None) -> None:
        self.backend: Backend = backend if backend is not None else LocalBackend()
        # channel name -> member sessions (a dict keeps join order)
        self._members: dict[str, dict["Session", None]] = {}
        self.backend.start(self.deliver)

    def channel(self, name: str) -> Channel:
        """The channel called ``name`` (created on first use)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"channel names are non-empty strings, got {name!r}")
        return Channel(self, name)

    def channels(self) -> Iterator[str]:
        """Names of channels with members in this process."""
        return iter(list(self._members))

    def deliver(self, channel: str, message: str) -> int:
        """Queue ``message`` for every local member of ``channel``; returns how many."""
        members = self._members.get(channel)
        if not members:
            return 0
        quoted = protocol.quote(message)
        for session in list(members):
            session.send_quoted(message, quoted)
        return len(members)

    def stop(self) -> None:
        self.backend.stop()

    def _join(self, name: str, conn: Connection) -> None:
        session = conn._session
        if session.closed:
            return
        members = self._members.setdefault(name, {})
        if session not in members:
            members[session] = None
            session.on_close(lambda s, name=name: self._leave(name, s))

    def _leave(self, name: str, session: "Session") -> None:
        members = self._members.get(name)
        if members is not None:
            members.pop(session, None)
            if not members:
                del self._members[name]


_default_hub: Optional[ChannelHub] = None


def default_hub() -> ChannelHub:
    """The process-wide hub ``channel()`` uses.

    In-process, unless ``configure()`` was called or the environment
    variable SOCKJS_GEVENT_REDIS_URL names a Redis server (as the cluster
    runner sets it for its workers).
    """
    global _default_hub
    if _default_hub is None:
        url = os.environ.get(REDIS_URL_ENV)
        if url:
            from .redis import RedisBackend

            _default_hub = ChannelHub(RedisBackend(url))
        else:
            _default_hub = ChannelHub()
    return _default_hub


def configure(backend: Backend) -> ChannelHub:
    """Make the process-wide hub use ``backend`` (e.g. RedisBackend(url))."""
    global _default_hub
    if _default_hub is not None:
        _default_hub.stop()
    _default_hub = ChannelHub(backend)
    return _default_hub


def channel(name: str) -> Channel:
    """The channel ``name`` on the process-wide hub."""
    return default_hub().channel(name)
