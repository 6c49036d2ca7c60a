"""Shared fixtures: the conformance test server, started once per session.

The process helpers live in tests/serverproc.py.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from serverproc import RunningServer, start_server, start_testserver  # noqa: F401 (re-exported for old imports)


@pytest.fixture(scope="session")
def server() -> Iterator[RunningServer]:
    """The conformance test server with default options, shared by a session."""
    running = start_testserver()
    yield running
    running.stop()


@pytest.fixture
def server_factory() -> Iterator:
    """Start extra test servers with given CLI options; stopped after the test."""
    started: list[RunningServer] = []

    def factory(*extra: str) -> RunningServer:
        running = start_testserver(*extra)
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()
