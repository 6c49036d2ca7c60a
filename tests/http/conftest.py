"""The ``start_server`` fixture: in-process HttpServers (helpers in httpwire.py)."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

import pytest
from gevent.pool import Pool

from httpwire import FAST
from sockjs_gevent.http import HttpConfig, HttpServer


@pytest.fixture
def start_server() -> Iterator[Callable[..., HttpServer]]:
    """``start_server(app, config=FAST, **kwargs)``: a started HttpServer on a free port."""
    servers: list[HttpServer] = []

    def start(app: Callable, config: Optional[HttpConfig] = None, **kwargs: Any) -> HttpServer:
        kwargs.setdefault("spawn", Pool())
        server = HttpServer(("127.0.0.1", 0), app, config or FAST, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(timeout=1.0)


