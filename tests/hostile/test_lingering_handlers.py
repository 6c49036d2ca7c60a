"""Handlers that never return: counted until they do, stopped ``handler_close_timeout`` after their session closed.

A client opening sessions as fast as it can (pipelined xhr opens) against
a handler that blocks forever used to leave every handler greenlet (about
9 KB) behind after its session expired: memory grew without bound and
``max_sessions`` no longer counted them (issue 23, item 2).
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
import uuid

import pytest
from websockets.sync.client import connect

from testkit.rawhttp import HttpConnection
from tests.hostile.hostile import rss_mib, stats

FLOOD_SECONDS = 4.0  # a ramp of a quarter, then two windows whose memory is compared


def flood(server, stop: threading.Event, opened: list[int]) -> None:
    """Pipelined POST /stubborn/.../xhr opens on one connection, 50 at a time, until ``stop``."""
    conn = socket.create_connection((server.host, server.port), timeout=10)
    try:
        while not stop.is_set():
            batch = b"".join(
                f"POST /stubborn/1/{uuid.uuid4().hex}/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
                for _ in range(50)
            )
            conn.sendall(batch)
            answered = b""
            while answered.count(b"o\n") < 50:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                answered += chunk
            opened[0] += 50
    finally:
        conn.close()


def open_stubborn(server) -> bytes:
    """POST /stubborn/.../xhr for a new session: the body of the answer (``o`` and the first frame, or a close)."""
    with socket.create_connection((server.host, server.port), timeout=5) as conn:
        conn.sendall(
            f"POST /stubborn/1/{uuid.uuid4().hex}/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
        )
        return HttpConnection(conn).read_response().body


def echo_time(server) -> float:
    """Seconds for one websocket echo on /echo (a well-behaved handler), the session already open."""
    with connect(f"ws://{server.host}:{server.port}/echo/000/{uuid.uuid4().hex}/websocket", open_timeout=5) as ws:
        assert ws.recv(timeout=5) == "o"
        started = time.monotonic()
        ws.send(json.dumps(["ping"]))
        assert ws.recv(timeout=5) == 'a["ping"]'
        return time.monotonic() - started


def rss_through(server, seconds: float) -> float:
    """The median of the server's resident memory (MiB), sampled every 0.1 s for ``seconds`` of the flood.

    One sample is not a level: the reaper stops expired handlers in
    batches, so the live sessions, and the memory they hold, swing by
    10-20 MiB within half a second at the flood's rate of 10,000 opens a
    second. The median of a window is what levels off or grows.
    """
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(rss_mib(server))
        time.sleep(0.1)  # (the sampling rate across the flood's length: the load, not a wait for some state)
    return statistics.median(samples)


@pytest.mark.serial  # its bounds (memory growth, echo times) hold for the flood alone, not beside other tests
def test_a_flood_of_sessions_against_a_stuck_handler_levels_off(server_factory):
    server = server_factory("--disconnect-delay", "0.2", "--handler-close-timeout", "0.3")
    stop = threading.Event()
    opened = [0]
    threads = [threading.Thread(target=flood, args=(server, stop, opened)) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(FLOOD_SECONDS / 4)  # (the flood's ramp, before the reaper's first round: the load, not a wait)
        early, early_opened = rss_through(server, FLOOD_SECONDS * 3 / 8), opened[0]
        late, late_opened = rss_through(server, FLOOD_SECONDS * 3 / 8), opened[0]
        echoes = sorted(echo_time(server) for _ in range(5))
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    killed = stats(server, "/stubborn")["problems"].get("handler_killed", 0)
    in_second_half = late_opened - early_opened
    assert in_second_half > 4000, in_second_half  # the flood did run: leaking, it would have grown by 35 MiB or more
    # Without the reaper each session left ~9 KB: thousands of them in the second half alone
    # (10,000 of them: about 90 MiB). With it, the medians measured stayed within 10 MiB of each other.
    assert late - early < 15, (early, late, in_second_half)
    assert killed > in_second_half / 2, (killed, opened)
    assert echoes[2] < 0.1 and echoes[-1] < 1.0, echoes  # the median, and none stuck behind the flood
    assert "stopped it" in server.log()  # logged (once per handler and line)
    assert server.log().count("still ran") == 1, server.log()[-2000:]


def test_a_handler_that_outlives_its_session_still_counts_in_max_sessions(server_factory):
    server = server_factory("--disconnect-delay", "0.2", "--handler-close-timeout", "0", "--max-sessions", "3")
    for _ in range(3):
        assert open_stubborn(server) == b"o\n"
    deadline = time.monotonic() + 5
    while stats(server, "/stubborn")["sessions_open"]:  # expire (disconnect_delay): closed, handlers still stuck
        assert time.monotonic() < deadline, stats(server, "/stubborn")
        time.sleep(0.05)
    assert open_stubborn(server) == b'c[1013,"Server busy: too many sessions"]\n'
    assert stats(server, "/stubborn")["problems"].get("handler_killed", 0) == 0  # 0: never stopped


def test_handlers_that_return_on_their_own_are_never_stopped(server_factory):
    server = server_factory("--disconnect-delay", "0.2", "--handler-close-timeout", "0.1")
    for _ in range(20):
        assert echo_time(server) < 5
    time.sleep(0.3)  # past handler_close_timeout after the last close: nothing may be stopped meanwhile
    assert stats(server, "/echo")["problems"].get("handler_killed", 0) == 0
    assert "still ran" not in server.log()
