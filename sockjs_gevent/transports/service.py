"""What the transports use of the service they serve: the ``Service`` protocol.

``app.SockJS`` is the service; the transports are typed against this
instead, so they read (and type-check) without the app, and the imports
go one way: the app imports the transports, never the other way round.
"""

from __future__ import annotations

from typing import Protocol

from ..options import Options
from ..responses import Environ
from ..session import Session, SessionRegistry
from ..stats import Stats


class Service(Protocol):
    """A SockJS service as its transports see it: four members of ``app.SockJS``."""

    @property
    def options(self) -> Options:
        """Its options: limits, delays, the websocket settings."""
        ...

    @property
    def stats(self) -> Stats:
        """Its counters, where the transports count the problems they answer."""
        ...

    @property
    def sessions(self) -> SessionRegistry:
        """Its HTTP sessions by session id (websocket sessions are in none)."""
        ...

    def open_session(self, session_id: str | None, environ: Environ, transport: str, raw: bool = False) -> Session:
        """Create a session and start its handler (``session_id`` None: a websocket's, in no registry)."""
        ...
