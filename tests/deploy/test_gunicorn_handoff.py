"""Several gunicorn workers on one port: each request of a session reaches the worker that holds it (hand-off).

Every request below goes on a new TCP connection, so whichever worker
accepts it, a session's requests must be passed to the session's worker.
Session ids are picked to fall on every worker's slot. At the end each
worker logs what its hand-off did; the tests check that connections were
actually passed (``sent``) and taken (``received``).
"""

from __future__ import annotations

import re
import signal

import pytest

from sockjs_gevent.client import connect
from sockjs_gevent.handoff import slot_of
from tests.deploy.gunicornproc import Gunicorn, start_gunicorn

SHUTTING_DOWN = (1001, "Server shutting down")


def session_ids(slots: int, per_slot: int, tag: str) -> list[str]:
    """Session ids, ``per_slot`` of them held by each of ``slots`` workers."""
    chosen: dict[int, list[str]] = {slot: [] for slot in range(slots)}
    n = 0
    while any(len(ids) < per_slot for ids in chosen.values()):
        sid = f"{tag}{n}"
        n += 1
        if len(chosen[slot_of(sid, slots)]) < per_slot:
            chosen[slot_of(sid, slots)].append(sid)
    return [sid for ids in zip(*chosen.values(), strict=True) for sid in ids]


def handoff_totals(running: Gunicorn) -> tuple[int, int]:
    """(sent, received) summed over the "hand-off: ..." lines the workers logged on their way out."""
    lines = re.findall(r"hand-off: sent (\d+), received (\d+)", running.log())
    assert lines, running.log()
    return sum(int(s) for s, _ in lines), sum(int(r) for _, r in lines)


def stop_and_count(running: Gunicorn) -> tuple[int, int]:
    running.signal(signal.SIGTERM)
    assert running.wait_exited(timeout=15) == 0
    running.out.wait_ended()
    return handoff_totals(running)


@pytest.fixture
def three_workers():
    running = start_gunicorn(workers=3)
    yield running
    running.stop()
    assert "Traceback" not in running.log()


def test_xhr_polling_sessions_work_across_new_connections_whatever_worker_accepts(three_workers: Gunicorn) -> None:
    running = three_workers
    ids = session_ids(3, 4, "poll")
    for sid in ids:  # all open at once, then each request on a connection of its own
        assert running.post(f"/echo/000/{sid}/xhr") == (200, b"o\n")
    for round_ in range(3):
        for sid in ids:
            assert running.post(f"/echo/000/{sid}/xhr_send", f'["{sid}-{round_}"]'.encode())[0] == 204
        for sid in ids:
            assert running.post(f"/echo/000/{sid}/xhr") == (200, f'a["{sid}-{round_}"]\n'.encode())
    sent, received = stop_and_count(running)
    assert sent > 0 and received == sent


def test_streaming_and_websocket_sessions_across_workers(three_workers: Gunicorn) -> None:
    running = three_workers
    sessions = [
        connect(running.url("/echo"), transport=transport, session_id=sid, timeout=10)
        for transport in ("xhr-streaming", "eventsource", "websocket")
        for sid in session_ids(3, 1, transport[:3])
    ]
    try:
        for n in range(3):
            for conn in sessions:
                conn.send(f"message {n}")
            for conn in sessions:
                assert conn.recv(timeout=10) == f"message {n}"
    finally:
        for conn in sessions:
            conn.close()
    sent, received = stop_and_count(running)
    assert sent > 0 and received == sent


def test_hup_hands_the_slots_to_the_new_workers() -> None:
    """After a reload the new workers wait for the old ones' slots, then hold every session between them."""
    running = start_gunicorn(workers=2)
    try:
        old = running.workers()
        session = connect(running.url("/echo"), transport="xhr-streaming", timeout=10)
        start = running.mark()
        running.signal(signal.SIGHUP)
        assert session.recv(timeout=10) is None
        assert (session.close_code, session.close_reason) == SHUTTING_DOWN
        new = set(running.wait_ready(2, start=start))
        assert not new & old
        for sid in session_ids(2, 2, "after"):
            assert running.post(f"/echo/000/{sid}/xhr") == (200, b"o\n")
            assert running.post(f"/echo/000/{sid}/xhr_send", b'["again"]')[0] == 204
            assert running.post(f"/echo/000/{sid}/xhr") == (200, b'a["again"]\n')
    finally:
        running.stop()
