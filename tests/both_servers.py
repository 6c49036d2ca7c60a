"""Fixtures that run a folder's tests against both HTTP servers: sockjs_gevent's httptools one and gevent's pywsgi.

A folder's conftest.py imports them (``from both_servers import *``); they
override the ``server`` and ``server_factory`` fixtures of tests/conftest.py
there, so every test that uses either runs once per server.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from serverproc import RunningServer, start_testserver

__all__ = ["server_kind", "server", "server_factory"]


@pytest.fixture(scope="session", params=["httptools", "pywsgi"])
def server_kind(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def server(server_kind: str) -> Iterator[RunningServer]:
    """The conformance test server with default options, on one HTTP server kind."""
    running = start_testserver("--server", server_kind)
    yield running
    running.stop()


@pytest.fixture
def server_factory(server_kind: str) -> Iterator:
    """Extra test servers with given CLI options, on the same HTTP server kind."""
    started: list[RunningServer] = []

    def factory(*extra: str) -> RunningServer:
        running = start_testserver("--server", server_kind, *extra)
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()
