"""The worker in gunicorn's process model: SIGTERM, HUP, USR2, max_requests, a worker killed with SIGKILL.

Each test starts its own gunicorn and waits on its log lines (a worker's
ready line, the arbiter's), never on a fixed sleep.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from sockjs_gevent.client import connect
from tests.deploy.gunicornproc import READY, Gunicorn, children, parent_of, poll_until, start_gunicorn, wait_gone

SHUTTING_DOWN = (1001, "Server shutting down")


def pid_of_answer(running: Gunicorn) -> int:
    status, body = running.get("/_pid")
    assert status == 200
    return int(body)


def test_sigterm_closes_sessions_with_1001_and_exits_within_graceful_timeout() -> None:
    running = start_gunicorn(workers=1)  # --graceful-timeout 5
    try:
        sessions = [
            connect(running.url("/echo"), transport=t, timeout=10) for t in ("websocket", "xhr-streaming", "websocket")
        ]
        for conn in sessions:
            conn.send("before")
            assert conn.recv(timeout=10) == "before"
        started = time.monotonic()
        running.signal(signal.SIGTERM)
        for conn in sessions:
            assert conn.recv(timeout=10) is None
            assert (conn.close_code, conn.close_reason) == SHUTTING_DOWN
        assert running.wait_exited(timeout=10) == 0
        assert time.monotonic() - started < 5.0
        log = running.log()
        assert "closed 3 session(s) with 1001" in log and "Traceback" not in log
    finally:
        running.stop()


def test_hup_closes_old_sessions_and_new_workers_serve() -> None:
    running = start_gunicorn(workers=1)
    try:
        old = running.workers()
        session = connect(running.url("/echo"), transport="websocket", timeout=10)
        session.send("before")
        assert session.recv(timeout=10) == "before"
        start = running.mark()
        running.signal(signal.SIGHUP)
        new = set(running.wait_ready(1, start=start))
        assert not new & old
        assert session.recv(timeout=10) is None
        assert (session.close_code, session.close_reason) == SHUTTING_DOWN
        wait_gone(old)
        assert pid_of_answer(running) in new
        with connect(running.url("/echo"), transport="xhr-streaming", timeout=10) as again:
            again.send("after")
            assert again.recv(timeout=10) == "after"
        assert running.workers() == new
    finally:
        running.stop()


@pytest.mark.parametrize("workers", [1, 2])
def test_usr2_upgrade_then_term_of_the_old_arbiter(workers: int) -> None:
    """USR2 starts a new arbiter with its own workers; TERM to the old one closes its sessions, the new one serves.

    With two workers the new ones wait for the old ones' hand-off slots, so they are ready only after the TERM.
    """
    running = start_gunicorn(workers=workers)
    try:
        old_workers = running.workers()
        session = connect(running.url("/echo"), transport="websocket", timeout=10)
        start = running.mark()
        running.signal(signal.SIGUSR2)
        if workers == 1:
            new_workers = set(running.wait_ready(1, start=start))
        else:
            waiting = running.wait_for(r"\[(\d+)\] \[INFO\] every one of the 2 slots is held", start=start)
            new_workers = {int(waiting.group(1))}
        new_master = parent_of(next(iter(new_workers)))
        running.extra_pids.append(new_master)
        assert new_master != running.pid and parent_of(new_master) == running.pid
        start = running.mark()
        running.signal(signal.SIGTERM)  # the old arbiter and its workers go
        if workers == 2:
            new_workers = set(running.wait_ready(2, start=start))
        assert session.recv(timeout=10) is None
        assert (session.close_code, session.close_reason) == SHUTTING_DOWN
        assert running.wait_exited(timeout=10) == 0
        wait_gone(old_workers)
        assert pid_of_answer(running) in new_workers
        assert children(new_master) == new_workers
    finally:
        running.stop()


def test_max_requests_restarts_workers_without_failing_a_request() -> None:
    running = start_gunicorn("--max-requests", "20", "--max-requests-jitter", "0", workers=2)
    failures: list[BaseException] = []
    stop = threading.Event()

    def load() -> None:  # requests beside the counted ones, all the while
        while not stop.is_set():
            try:
                assert running.get("/echo/info")[0] == 200
            except BaseException as exc:  # noqa: BLE001 (reported below)
                failures.append(exc)
                return

    try:
        first = running.workers()
        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        answered = set()
        for _ in range(100):
            status, body = running.get("/_pid", timeout=20)
            assert status == 200
            answered.add(int(body))
        stop.set()
        loader.join(30)
        assert not failures, failures
        assert answered - first, "no request was answered by a restarted worker"
        assert "Autorestarting worker after current request." in running.log()
        assert "Traceback" not in running.log()
    finally:
        stop.set()
        running.stop()


def test_a_killed_worker_is_replaced_and_the_service_keeps_answering() -> None:
    running = start_gunicorn(workers=3)
    try:
        workers = running.workers()
        victim = min(workers)
        start = running.mark()
        os.kill(victim, signal.SIGKILL)

        def answering_until_replaced() -> list[int]:
            assert running.get("/echo")[0] == 200  # the two others answer all along
            return [int(pid) for pid in READY.findall("".join(running.out.lines[start:]))]

        replaced = poll_until(answering_until_replaced, 20, "a replacement worker")
        assert running.workers() == workers - {victim} | set(replaced)
        with connect(running.url("/echo"), transport="xhr-polling", timeout=10) as conn:
            conn.send("still here")
            assert conn.recv(timeout=10) == "still here"
    finally:
        running.stop()


def test_workers_stop_when_the_arbiter_dies() -> None:
    """An arbiter killed with SIGKILL cannot stop its workers: they notice their parent changed, close, and exit."""
    running = start_gunicorn(workers=2)
    try:
        workers = running.workers()
        session = connect(running.url("/echo"), transport="websocket", timeout=10)
        running.process.kill()
        running.process.wait()
        assert session.recv(timeout=10) is None
        assert (session.close_code, session.close_reason) == SHUTTING_DOWN
        wait_gone(workers, timeout=10)
        assert "Parent changed, shutting down" in running.log()
    finally:
        running.stop()


def test_reload_restarts_the_worker_when_a_watched_file_changes(tmp_path) -> None:
    """--reload: gunicorn's reloader only flips the worker's ``alive``; the worker notices and stops gracefully."""
    watched = tmp_path / "watched.txt"
    watched.write_text("a")
    running = start_gunicorn("--reload", "--reload-extra-file", str(watched), workers=1)
    try:
        old = running.workers()
        start = running.mark()
        stamp = [time.time()]

        def touched_until_restarted() -> bool:
            stamp[0] += 10  # (a newer mtime each time: the reloader's first scan may come after the first touch)
            os.utime(watched, (stamp[0], stamp[0]))
            return bool(READY.search("".join(running.out.lines[start:])))

        poll_until(touched_until_restarted, 20, "the reloaded worker", interval=0.2)
        wait_gone(old)
        assert pid_of_answer(running) not in old
    finally:
        running.stop()
