"""The process-wide budget for client data (``max_buffered_bytes``): many sessions each under their own bounds.

150 xhr-streaming sessions on a handler that never reads, each sent 5 x 1 MB
messages: every inbox stays under ``max_inbox_bytes`` (4 MiB), yet they
held 600 MB together (issue 23, item 1). With a budget the sends past it
get 503, new sessions 1013, websockets pause; nothing accepted is lost.
"""

from __future__ import annotations

import json
import threading
import uuid

from websockets.sync.client import connect

from testkit.rawhttp import Raw
from testkit.serverproc import poll_until
from tests.hostile.hostile import rss_mib, stats

MIB = 1024 * 1024
BUDGET = 32 * MIB
SESSIONS = 150
SENDS = 5
MESSAGE = json.dumps(["x" * 1_000_000]).encode()


def status_of(server, path: str, body: bytes) -> int:
    """POST on a new connection; the answer's status (0 if the server closed before answering)."""
    with Raw(server, timeout=10) as conn:
        try:
            conn.send_request("POST", path, (), body)
        except OSError:
            pass  # refused before the whole body was read: the answer is still there to read
        try:
            return conn.read_head().status
        except OSError:  # (ConnectionClosed is one)
            return 0


def open_stream(server, prefix: str, sid: str) -> Raw:
    """An xhr-streaming session, its stream open (read up to the ``o`` frame)."""
    conn = Raw(server, timeout=10)
    conn.send_request("POST", f"{prefix}/000/{sid}/xhr_streaming")
    assert conn.read_head().status == 200
    conn.read_until(lambda body: b"o\n" in body)
    return conn


def test_sends_past_the_budget_get_503_and_memory_stays_bounded(server_factory):
    server = server_factory("--max-buffered-bytes", str(BUDGET), "--disconnect-delay", "0.5")
    before = rss_mib(server)
    sids = [uuid.uuid4().hex for _ in range(SESSIONS)]
    streams = [open_stream(server, "/stubborn", sid) for sid in sids]
    statuses: list[int] = []

    def send_all(part: list[str]) -> None:
        for sid in part:
            for _ in range(SENDS):
                statuses.append(status_of(server, f"/stubborn/000/{sid}/xhr_send", MESSAGE))

    threads = [threading.Thread(target=send_all, args=(sids[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    grown = rss_mib(server) - before
    accepted = statuses.count(204)
    assert statuses.count(503) > 0 and set(statuses) <= {204, 503}, sorted(set(statuses))
    assert accepted * 1_000_000 <= BUDGET + 1_000_000, accepted  # (one may cross the line; no more)
    assert grown < BUDGET / MIB + 64, (grown, accepted)
    body = stats(server, "/stubborn")
    assert body["problems"]["over_budget"] > 0
    assert json.loads(_get(server, "/stats"))["budget"]["limit"] == BUDGET
    for conn in streams:
        conn.close()


def test_over_the_budget_new_sessions_get_1013_websockets_wait_and_nothing_is_lost(server_factory):
    # (A paused reader learns that its client left when a write fails: short heartbeats make one soon.)
    server = server_factory(
        "--max-buffered-bytes", str(4 * MIB), "--disconnect-delay", "0.3", "--heartbeat-delay", "0.3"
    )
    base = f"ws://{server.host}:{server.port}"
    with (
        connect(f"{base}/echo/000/{uuid.uuid4().hex}/websocket", open_timeout=5, max_size=None) as echo,
        connect(f"{base}/stubborn/000/{uuid.uuid4().hex}/websocket", open_timeout=5, close_timeout=0.1) as stuck,
    ):
        assert echo.recv(timeout=5) == "o" and stuck.recv(timeout=5) == "o"
        for _ in range(5):  # 5 MB for a handler that never reads: the process goes over its 4 MiB
            stuck.send(json.dumps(["s" * 1_000_000]))
        poll_until(lambda: json.loads(_get(server, "/stats"))["budget"]["held"] > 4 * MIB, 10, "the budget to fill")
        refused = _post(server, f"/echo/000/{uuid.uuid4().hex}/xhr")
        assert refused == b'c[1013,"Server busy: too much client data held"]\n'
        sent = [f"{i:03d}" + "e" * 100_000 for i in range(20)]
        for text in sent:  # the echo session's reading pauses: these wait in TCP, not in the server
            echo.send(json.dumps([text]))
        stuck.close()  # its session closes; its unread 5 MB are dropped after disconnect_delay
        received: list[str] = []
        while len(received) < len(sent):
            frame = echo.recv(timeout=10)
            if frame.startswith("a"):
                received += json.loads(frame[1:])
        assert received == sent  # all of them, in order
    assert stats(server, "/echo")["problems"]["over_budget"] > 0


def _answer(server, method: str, path: str) -> bytes:
    """The body of the answer to one request on a new connection."""
    with Raw(server) as conn:
        conn.send_request(method, path, {"Connection": "close"})
        return conn.read_response().body


def _post(server, path: str) -> bytes:
    return _answer(server, "POST", path)


def _get(server, path: str) -> bytes:
    return _answer(server, "GET", path)
