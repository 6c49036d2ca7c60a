"""Broadcast to groups of connections, in one process or across many (Redis)."""

from .hub import Backend, Channel, ChannelHub, LocalBackend, channel, configure, default_hub

__all__ = ["Backend", "Channel", "ChannelHub", "LocalBackend", "channel", "configure", "default_hub"]
