"""The hostile-input tests run against both HTTP servers (see tests/both_servers.py),
and use testkit's wire helpers (rawhttp, rawws, sockjshttp, sockjsstream)."""

import pytest

from tests.both_servers import *  # noqa: F401,F403 (the fixtures)


@pytest.fixture(scope="session", params=["httptools", "pywsgi"])
def server_kind(request) -> str:
    """One process per server kind: these tests read that process's memory and counters.

    (The workers kind of both_servers is for the conformance suite; the
    hand-off's own hostile cases are in tests/deploy/test_handoff_worker.py.)
    """
    return request.param
