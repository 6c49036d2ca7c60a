"""Out of descriptors: a server that cannot accept says so once a second, backs off, and recovers by itself.

The test server runs with RLIMIT_NOFILE lowered to 200 and gets more
connections than that (idle: each holds a descriptor until its head
deadline). accept() then fails with EMFILE over and over; the log must get
a line at most every second (no traceback per failed accept) and the
server must answer again once the connections are gone.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import pytest

from testkit.rawhttp import http
from testkit.serverproc import RunningServer, poll_until, start_server

LIMIT = 200
CONNECTIONS = 260  # past the limit, and within what accepts plus the listen backlog (128) hold

#: ``python -c`` with the descriptor limit lowered, then the test server with the given arguments.
LIMITED = (
    "import resource, runpy, sys; "
    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({LIMIT}, {LIMIT})); "
    "sys.argv = ['sockjs_gevent.testserver', *sys.argv[1:]]; "
    "runpy.run_module('sockjs_gevent.testserver', run_name='__main__', alter_sys=True)"
)


@pytest.fixture
def limited(server_kind: str) -> Iterator[RunningServer]:
    running = start_server(["-c", LIMITED, "--host", "127.0.0.1", "--port", "0", "--server", server_kind])
    yield running
    running.stop()


def answers(server: RunningServer) -> bool:
    try:
        status, _, _ = http(server, "GET", "/echo/info", timeout=2.0)
    except OSError:
        return False
    return status == 200


def test_running_out_of_descriptors_logs_a_line_a_second_and_recovers(limited):
    assert answers(limited)
    clients: list[socket.socket] = []
    try:
        for _ in range(CONNECTIONS):
            clients.append(socket.create_connection((limited.host, limited.port), timeout=5))
        limited.wait_for_log(r"Too many open files|EMFILE", timeout=5)
        # The server keeps failing to accept for a while (an observation
        # window, not a wait for state): long enough for the old behaviour,
        # a traceback per try, to show several times.
        time.sleep(2.0)
    finally:
        for client in clients:
            client.close()
    started = time.monotonic()
    poll_until(lambda: answers(limited), timeout=5.0, what="the server to answer again")
    recovered = time.monotonic() - started

    log = limited.log()
    assert "Traceback" not in log, log
    accept_lines = [line for line in log.splitlines() if re.search("accept", line, re.IGNORECASE)]
    # First failure, about one a second while it lasts (~3 s), the recovery.
    assert 1 <= len(accept_lines) <= 6, log
    assert any("ulimit -n" in line and "WARNING" in line for line in accept_lines), log
    assert recovered < 3.0, recovered
