"""Shared fixtures: the conformance test server, started once per session.

The process helpers live in testkit/serverproc.py.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from testkit.serverproc import RunningServer, start_testserver


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
