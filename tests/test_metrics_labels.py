"""Close codes chosen by clients add no keys to /stats and no series to /metrics (issue 23).

A websocket client may close with any code of 3000-4999; counted each as
itself, 1,000 clients closing with 1,000 codes made 1,000 Prometheus series
and 1,000 keys in the JSON stats, and the memory that holds them.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from testkit.serverproc import poll_until

#: 1,000 codes over both application ranges: 3000, 3002, ... 4998.
CODES = range(3000, 5000, 2)
THREADS = 16


def open_and_close(base: str, code: int) -> None:
    """One SockJS websocket session on /echo that the client closes with ``code``."""
    with connect(f"{base}/echo/000/{uuid.uuid4().hex}/websocket", open_timeout=5, close_timeout=5) as ws:
        assert ws.recv(timeout=5) == "o"
        ws.close(code, "bye")


def echo_closed(server) -> dict[str, int]:
    with urllib.request.urlopen(server.url("/stats"), timeout=5) as response:
        return json.load(response)["/echo"]["sessions_closed"]


def counted(server, sessions: int) -> dict[str, int]:
    """/echo's sessions_closed once it counts ``sessions`` (the server counts as each socket ends)."""

    def all_in():
        closed = echo_closed(server)
        return closed if sum(closed.values()) >= sessions else None

    return poll_until(all_in, 10.0, f"the server to count {sessions} sessions closed")


def closed_series(server) -> dict[str, float]:
    """The sockjs_sessions_closed_total series of /echo, by their code label."""
    with urllib.request.urlopen(server.url("/metrics"), timeout=5) as response:
        text = response.read().decode()
    return {
        sample.labels["code"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "sockjs_sessions_closed"
        for sample in family.samples
        if sample.name == "sockjs_sessions_closed_total" and sample.labels["service"] == "/echo"
    }


def test_a_thousand_client_close_codes_make_two_series_not_a_thousand(server_factory):
    server = server_factory()
    base = f"ws://{server.host}:{server.port}"
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda code: open_and_close(base, code), CODES))

    # Before, 1,000 keys and 1,000 series: one per code.
    assert counted(server, len(CODES)) == {"3xxx": 500, "4xxx": 500}
    assert closed_series(server) == {"3xxx": 500.0, "4xxx": 500.0}

    # Standard codes still stand for themselves, beside the groups.
    open_and_close(base, 1000)
    open_and_close(base, 1001)
    closed = counted(server, len(CODES) + 2)
    assert closed == {"3xxx": 500, "4xxx": 500, "1000": 1, "1001": 1}
    assert closed_series(server) == {code: float(n) for code, n in closed.items()}
