"""Broadcast to groups of connections, in one process or across many (Redis).

from sockjs_gevent import channels

room = conn.channel("lobby")          # scoped to the connection's service
room = channels.channel("lobby")      # one name for the whole process
room.join(conn)
room.publish(text, exclude=conn)      # everyone but the sender
channels.send_to(conn_id, text)       # one connection, on any worker
service.publish("lobby", text)        # outside a handler: a service's room (SockJS.publish)
room.join(conn, info={"name": "ann"})  # info: what presence() shows of conn
room.presence()                       # member id -> info, on every worker
channels.configure(channels.RedisBackend("redis://127.0.0.1:6379/0"))
channels.configure(channels.RedisClusterBackend("redis://127.0.0.1:7000"))
"""

from .hub import (
    Backend,
    Channel,
    ChannelHub,
    LocalBackend,
    Member,
    PresenceUnavailable,
    channel,
    configure,
    default_hub,
    flush,
    rooms_of,
    send_to,
    wait_for_bus,
)
from .redis import RedisBackend
from .redis_cluster import RedisClusterBackend

__all__ = [
    "Backend",
    "Channel",
    "ChannelHub",
    "LocalBackend",
    "Member",
    "PresenceUnavailable",
    "RedisBackend",
    "RedisClusterBackend",
    "channel",
    "configure",
    "default_hub",
    "flush",
    "rooms_of",
    "send_to",
    "wait_for_bus",
]
