"""Shared fixtures: the conformance test server, started once per session; and the ``serial`` mark.

The process helpers live in testkit/serverproc.py.

``scripts/test.sh`` runs the suite in two processes (pytest-xdist). A test
marked ``@pytest.mark.serial`` runs while no other test of this suite runs
on the machine, in any process of this run or of another (the 3.12 and 3.13
runs of scripts/test-pythons.sh go at once): for a test that measures
time, memory or rates under a load it makes itself, which another test
beside it would disturb. Every other test holds a shared lock while it
runs (setup, call and teardown); a serial test waits at a gate that stops
new tests from starting, then for the running ones to end, and holds both
locks until its own teardown is done.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

from testkit.serverproc import RunningServer, start_testserver

#: The locks: one directory per user, shared by every run of the suite on the machine.
LOCK_DIRECTORY = os.path.join(tempfile.gettempdir(), f"sockjs-gevent-tests-{os.getuid()}")


def _open_lock(name: str) -> int:
    os.makedirs(LOCK_DIRECTORY, mode=0o700, exist_ok=True)
    return os.open(os.path.join(LOCK_DIRECTORY, name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


_locks: dict[str, int] = {}


def _lock(name: str) -> int:
    if name not in _locks:
        _locks[name] = _open_lock(name)
    return _locks[name]


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Hold the shared lock for a test, or both exclusively for a ``serial`` one (see the docstring above).

    Outermost (tryfirst), so pytest-timeout's clock starts once the test has its lock.
    """
    gate, room = _lock("gate"), _lock("room")
    serial = item.get_closest_marker("serial") is not None
    if serial:
        fcntl.flock(gate, fcntl.LOCK_EX)  # no new test starts anywhere...
        fcntl.flock(room, fcntl.LOCK_EX)  # ...and the running ones have ended
    else:
        fcntl.flock(gate, fcntl.LOCK_SH)  # (waits while a serial test is waiting or running)
        fcntl.flock(room, fcntl.LOCK_SH)
        fcntl.flock(gate, fcntl.LOCK_UN)
    try:
        yield
    finally:
        fcntl.flock(room, fcntl.LOCK_UN)
        if serial:
            fcntl.flock(gate, fcntl.LOCK_UN)


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


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """(certfile, keyfile) of a self-signed certificate for 127.0.0.1 (the TLS tests of both servers and gunicorn)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)
