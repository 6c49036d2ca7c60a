"""``python -m sockjs_gevent.cluster``: workers on consecutive ports, restarted when they die."""

from __future__ import annotations

import os
import random
import select
import signal
import socket
import sys

import pytest

from tests.cluster.clusterproc import Proc, RedisServer
from tests.cluster.sessions import Collector, open_session, send_until_received

pytestmark = pytest.mark.cluster


def two_free_ports() -> int:
    """A base port such that it and the next one are free, below the ephemeral range.

    The runner binds them later; a port the kernel handed out as free (an
    ephemeral one) can meanwhile become the local port of any outgoing
    connection, e.g. the first worker's to Redis, and the second worker then
    fails to bind it again and again. Ports below the ephemeral range are
    never picked for outgoing connections.
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_start = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_start = 32768
    for _ in range(200):
        base = random.randrange(max(1024, ephemeral_start - 12000), ephemeral_start - 2)
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", base))
                second.bind(("127.0.0.1", base + 1))
        except OSError:
            continue
        return base
    raise AssertionError("no two consecutive free ports")


def test_runner_restarts_a_dead_worker_and_stops_cleanly() -> None:
    redis = RedisServer()
    redis.start()
    base = two_free_ports()
    runner = Proc(
        "cluster",
        [
            sys.executable,
            "-m",
            "sockjs_gevent.cluster",
            "sockjs_gevent.testserver:build",
            "--workers",
            "2",
            "--base-port",
            str(base),
            "--redis",
            redis.url,
        ],
    )
    try:
        pids = {}
        for port in (base, base + 1):
            pids[port] = int(runner.wait_for(rf"worker on port {port} started \(pid (\d+)\)").group(1))
            runner.wait_for(rf"listening on http://127\.0\.0\.1:{port}\b")
        # The workers share Redis: a broadcast on one reaches the other.
        a = Collector(open_session(f"http://127.0.0.1:{base}/broadcast", "websocket", "000"))
        b = Collector(open_session(f"http://127.0.0.1:{base + 1}/broadcast", "xhr-streaming", "000"))
        send_until_received(a, [b], "across")  # (b's worker subscribes as b's handler joins)

        mark = len(runner.lines)
        os.kill(pids[base + 1], signal.SIGKILL)
        b.wait_closed(10.0)
        runner.wait_for(rf"worker on port {base + 1} exited with -9; restarting", start=mark)
        restarted = int(runner.wait_for(rf"worker on port {base + 1} started \(pid (\d+)\)", start=mark).group(1))
        runner.wait_for(rf"listening on http://127\.0\.0\.1:{base + 1}\b", start=mark)
        c = Collector(open_session(f"http://127.0.0.1:{base + 1}/broadcast", "xhr-polling", "000"))
        c.conn.send("back")
        a.wait_for(lambda got: "back" in got, 10.0, "a broadcast from the restarted worker")
        a.close()
        c.close()

        runner.process.send_signal(signal.SIGTERM)
        assert runner.process.wait(15) == 0
        for pid in (pids[base], restarted):  # its workers went with it
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        runner.stop()  # SIGTERM: the runner stops its workers
        redis.stop()


def test_workers_exit_when_the_runner_is_killed() -> None:
    """SIGKILL gives the runner no chance to stop them: the kernel tells them (PR_SET_PDEATHSIG)."""
    base = two_free_ports()
    runner = Proc(
        "cluster",
        [
            sys.executable,
            "-m",
            "sockjs_gevent.cluster",
            "sockjs_gevent.testserver:build",
            "--workers",
            "2",
            "--base-port",
            str(base),
        ],
    )
    try:
        pids = [
            int(runner.wait_for(rf"worker on port {port} started \(pid (\d+)\)").group(1)) for port in (base, base + 1)
        ]
        for port in (base, base + 1):
            runner.wait_for(rf"listening on http://127\.0\.0\.1:{port}\b")
        exits = [os.pidfd_open(pid) for pid in pids]  # readable once the process has exited
        runner.process.kill()
        runner.process.wait(10)
        for pid, fd in zip(pids, exits, strict=True):
            readable, _, _ = select.select([fd], [], [], 10)
            os.close(fd)
            assert readable, f"worker {pid} outlived its killed runner"
    finally:
        runner.stop()
