"""The ``start_server`` fixture: in-process HttpServers (helpers in httpwire.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sockjs_gevent.http import HttpConfig, HttpServer
from tests.http.httpwire import FAST


@pytest.fixture
def start_server() -> Iterator[Callable[..., HttpServer]]:
    """``start_server(app, config=FAST, **kwargs)``: a started HttpServer on a free port."""
    servers: list[HttpServer] = []

    def start(app: Callable, config: HttpConfig | None = None, **kwargs: Any) -> HttpServer:
        server = HttpServer(("127.0.0.1", 0), app, config or FAST, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(timeout=1.0)
