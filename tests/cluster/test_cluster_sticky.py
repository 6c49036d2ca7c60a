"""Stickiness through HAProxy: every request of a session reaches its worker."""

from __future__ import annotations

import json
import re

import pytest

from sockjs_gevent.client.http import HttpClient
from tests.cluster.clusterproc import WORKER_NAMES, Cluster

pytestmark = pytest.mark.cluster

POLLS = 300


class PollingSession:
    """An xhr-polling session driven by hand: one request, one checked answer."""

    def __init__(
        self,
        http: HttpClient,
        prefix: str,
        server_id: str,
        session_id: str,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.http = http
        self.base = f"{prefix}/{server_id}/{session_id}"
        self.headers = headers or []
        self.served_by: set[str] = set()

    def request(self, transport: str, body: bytes = b"") -> tuple[int, bytes]:
        response = self.http.request("POST", f"{self.base}/{transport}", self.headers, body)
        payload = self.http.read_body()
        self.served_by.add(response.header("X-Served-By") or "?")
        self.last_response = response
        return response.status, payload

    def open(self) -> None:
        assert self.request("xhr") == (200, b"o\n")

    def echo(self, message: str) -> None:
        """Send ``message`` and poll it back; any sign of another worker fails."""
        status, body = self.request("xhr_send", json.dumps([message]).encode())
        assert status == 204, f"xhr_send of {message!r} answered {status} {body!r} (a worker without the session?)"
        status, body = self.request("xhr")
        assert (status, body) == (200, b"a" + json.dumps([message]).encode() + b"\n"), (
            f"poll for {message!r} answered {status} {body!r} (a new 'o' or c[2010] means a wrong worker)"
        )


def test_polling_session_survives_hundreds_of_polls_through_haproxy(cluster: Cluster) -> None:
    ids = cluster.server_ids("/echo")
    http = HttpClient("127.0.0.1", cluster.port, timeout=10.0)
    # One session per worker, interleaved on one keep-alive connection to
    # HAProxy: it must pick the worker per request, not per connection.
    sessions = {w: PollingSession(http, "/echo", ids[w][0], f"sticky{w}") for w in WORKER_NAMES}
    for session in sessions.values():
        session.open()
    for i in range(POLLS):
        if i % 50 == 0:
            http.close()  # now and then a fresh connection too
        for worker, session in sessions.items():
            session.echo(f"{worker}-{i}")
    http.close()
    assert {w: s.served_by for w, s in sessions.items()} == {w: {w} for w in WORKER_NAMES}
    assert cluster.open_sessions("/echo") == {w: {"xhr-polling": 1} for w in WORKER_NAMES}


def test_jsessionid_cookie_keeps_a_client_on_one_worker(cookie_cluster: Cluster) -> None:
    """HAProxy's cookie backend: round-robin first, then the JSESSIONID prefix decides."""
    http = HttpClient("127.0.0.1", cookie_cluster.port, timeout=10.0)
    first = PollingSession(http, "/cookie_needed_echo", "000", "first")
    first.open()
    set_cookie = first.last_response.header("Set-Cookie") or ""
    match = re.match(r"JSESSIONID=(w[123])~dummy;", set_cookie)
    assert match, f"HAProxy did not prefix the worker's JSESSIONID: {set_cookie!r}"
    home = match.group(1)
    assert first.served_by == {home}
    cookie = [("Cookie", f"JSESSIONID={home}~dummy")]
    # Many sessions with server_ids that the uri backend would spread: the
    # cookie alone now picks the worker, for every request of every one.
    sessions = [PollingSession(http, "/cookie_needed_echo", f"{n:03d}", f"s{n}", cookie) for n in range(6)]
    first.headers = cookie
    for session in [first, *sessions]:
        if session is not first:
            session.open()
    for i in range(30):
        for n, session in enumerate([first, *sessions]):
            session.echo(f"{n}-{i}")
    http.close()
    assert set().union(*(s.served_by for s in [first, *sessions])) == {home}
    assert cookie_cluster.open_sessions("/cookie_needed_echo")[home] == {"xhr-polling": 7}


def test_without_the_cookie_round_robin_breaks_polling_sessions(cookie_cluster: Cluster) -> None:
    """Why the cookie matters: the same session with no cookie meets the other workers."""
    http = HttpClient("127.0.0.1", cookie_cluster.port, timeout=10.0)
    session = PollingSession(http, "/cookie_needed_echo", "000", "nocookie")
    session.open()
    statuses = [session.request("xhr_send", b'["x"]')[0] for _ in range(3)]
    http.close()
    assert session.served_by == set(WORKER_NAMES)  # round-robin over w1, w2, w3
    assert sorted(statuses) == [204, 404, 404]  # only the worker that opened it has it
