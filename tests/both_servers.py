"""Fixtures that run a folder's tests against every way of serving.

The ways: sockjs_gevent's httptools server, gevent's pywsgi, and three
workers on one port (the project's runner, and gunicorn).

A folder's conftest.py imports them (``from tests.both_servers import *``); they
override the ``server`` and ``server_factory`` fixtures of tests/conftest.py
there, so every test that uses either runs once per kind:

- ``httptools``, ``pywsgi``: one test server process (``--server``);
- ``workers``: ``--workers 3``, the project's runner: three workers share
  the port and hand each session's requests to the worker that holds it;
- ``gunicorn``: gunicorn ``-w 3`` with ``sockjs_gevent.gunicorn.Worker``,
  the same hand-off. For both, once a whole run's tests are done, the
  workers' logs must show that connections were handed over (the suite's
  sessions are spread over them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from testkit.serverproc import RunningServer, start_gunicorn_testserver, start_testserver

__all__ = ["server_kind", "server", "server_factory", "one_process", "KINDS", "start"]

KINDS = {
    "httptools": ("--server", "httptools"),
    "pywsgi": ("--server", "pywsgi"),
    "workers": ("--workers", "3"),
    "gunicorn": (),
}
#: The kinds of several processes on one port, sessions handed between them.
SEVERAL = ("workers", "gunicorn")


def start(kind: str, *extra: str) -> RunningServer:
    """The test server of ``kind`` with ``extra`` service options."""
    if kind == "gunicorn":
        return start_gunicorn_testserver(*extra)
    return start_testserver(*KINDS[kind], *extra)


_HANDED = re.compile(r"hand-off: sent (\d+)")


@pytest.fixture(scope="session", params=list(KINDS))
def server_kind(request) -> str:
    return request.param


def handed_off(running: RunningServer) -> int:
    """Connections the stopped server's workers handed to each other (from their last log lines)."""
    running.wait_exited()
    return sum(int(n) for n in _HANDED.findall(running.log()))


@pytest.fixture
def one_process(server_kind: str) -> None:
    """For tests of state one process holds for several sessions (in-process channels, /stats): not on workers."""
    if server_kind in SEVERAL:
        pytest.skip(
            "state shared by several sessions lives in one worker; across workers it goes through Redis (tests/cluster)"
        )


@pytest.fixture(scope="session")
def server(server_kind: str, request) -> Iterator[RunningServer]:
    """The conformance test server with default options, on one kind."""
    running = start(server_kind)
    yield running
    running.stop()
    if server_kind in SEVERAL and len(request.session.items) > 100:  # (a whole run, not a few picked tests)
        assert handed_off(running) > 0, "no connection was handed to another worker:\n" + running.log()


@pytest.fixture
def server_factory(server_kind: str) -> Iterator:
    """Extra test servers with given CLI options, on the same kind."""
    started: list[RunningServer] = []

    def factory(*extra: str) -> RunningServer:
        running = start(server_kind, *extra)
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()
