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
  the same hand-off. For both, once a server has served more than 100
  tests (a run's share of them, in each pytest-xdist process), the
  workers' logs must show that connections were handed over (the suite's
  sessions are spread over them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from testkit.serverproc import RunningServer, start_gunicorn_testserver, start_testserver

__all__ = ["server_kind", "server", "server_factory", "one_process", "_count_server_use", "KINDS", "start"]

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


#: How many tests used each running ``server`` (by id): under pytest-xdist a process runs a share
#: of a kind's tests, and may start that kind's server more than once.
_uses: dict[int, int] = {}


@pytest.fixture(scope="session")
def server(server_kind: str) -> Iterator[RunningServer]:
    """The conformance test server with default options, on one kind."""
    running = start(server_kind)
    _uses[id(running)] = 0
    yield running
    running.stop()
    uses = _uses.pop(id(running))
    if server_kind in SEVERAL and uses > 100:  # (a run's share, not a few picked tests)
        assert handed_off(running) > 0, "no connection was handed to another worker:\n" + running.log()


@pytest.fixture(autouse=True)
def _count_server_use(request) -> Iterator[None]:
    """Count a test that used the ``server`` against it (for the hand-off check above)."""
    yield
    running = request.node.funcargs.get("server")
    if id(running) in _uses:
        _uses[id(running)] += 1


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
