#!/usr/bin/env python
"""Broadcast benchmark: deliveries/s and delivery latency to many WebSocket sessions.

    .venv/bin/python bench/broadcast.py [--sessions 1000] [--burst 200]

Two set-ups, each serving the /broadcast service of sockjs_gevent.testserver
(every message a session sends is published to every session):

  a. one worker, channels in-process;
  b. three workers sharing a redis-server (started here on a free port),
     the sessions spread evenly over them, the publisher on the first.

For each, one publisher session sends broadcasts one at a time, each when
every session has the previous one: every delivery is then a frame of its
own, and deliveries/s is the fan-out rate of a worker (or three). It also
sends a burst back to back, where the server batches what queues up for a
session into one frame: a peak, not a sustained rate. Latency is from the
publisher's send to a session's receipt, on one clock (the load
generator's); p99 is over every delivery.

The load generator is cheap on purpose: raw sockets in gevent greenlets,
testkit's WebSocket framer (server frames are never masked), one
``json.loads`` per frame. It shares the machine with the
servers, so the figures are a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import json
import os
import socket as stdlib_socket
import subprocess
import sys
import time

import gevent
from gevent import socket
from gevent.event import Event
from gevent.pool import Pool

# Run as `python bench/broadcast.py`, this folder is on sys.path and the repository root is not.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from testkit.rawhttp import HttpConnection
from testkit.redisservers import RedisServer
from testkit.serverproc import start_server, stop_process
from testkit.wsframe import CLOSE, OPCODE, encode, frame_at, new_key, upgrade_request

# -- processes -----------------------------------------------------------------


def free_port() -> int:
    with stdlib_socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_worker(redis_url: str | None) -> tuple[subprocess.Popen, int]:
    """``python -m sockjs_gevent sockjs_gevent.testserver:build`` on a free port; waits for its ready line."""
    worker = start_server(
        ["-m", "sockjs_gevent", "sockjs_gevent.testserver:build", "--port", "0", "--log-level", "WARNING"],
        {"SOCKJS_GEVENT_REDIS_URL": redis_url},  # None: not set, channels in-process
    )
    return worker.process, worker.port


def start_redis() -> tuple[subprocess.Popen, str]:
    server = RedisServer().start()
    assert server.process is not None
    return server.process, server.url


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        stop_process(process)


# -- the load generator --------------------------------------------------------


class Stats:
    """Deliveries and latencies of the current run, shared by every session."""

    def __init__(self) -> None:
        self.reset(0)

    def reset(self, expected: int) -> None:
        self.expected = expected
        self.delivered = 0
        self.frames = 0
        self.latencies: list[float] = []
        self.done = Event()
        if expected == 0:
            self.done.set()

    def record(self, sent_at: float, now: float) -> None:
        self.latencies.append(now - sent_at)
        self.delivered += 1
        if self.delivered >= self.expected:
            self.done.set()


class Session:
    """One SockJS websocket session on raw sockets: handshake, then read frames."""

    def __init__(self, host: str, port: int, index: int, stats: Stats) -> None:
        self.stats = stats
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(
            upgrade_request(f"/broadcast/{index % 1000:03d}/bench{index}/websocket", f"{host}:{port}", new_key())
        )
        handshake = HttpConnection(self.sock, host)
        head = handshake.read_head()
        if head.status != 101:
            raise ConnectionError(f"handshake refused: {head.status} {head.reason}")
        self.buffer = handshake.buf  # the frames that came with the 101
        self.opened = Event()
        self.closed = False
        self.greenlet = gevent.spawn(self._read_loop)

    def send(self, message: str) -> None:
        """A masked client text frame."""
        self.sock.sendall(encode(json.dumps([message])))

    def _read_loop(self) -> None:
        buffer = self.buffer
        stats = self.stats
        clock = time.perf_counter
        loads = json.loads
        data = b"-"  # the handshake's read may have brought the first frames already
        while True:
            if not data:
                self.closed = True
                return
            now = clock()
            pos = 0
            while (frame := frame_at(buffer, pos)) is not None:
                first, payload, pos, _ = frame
                if first & OPCODE == CLOSE:
                    self.closed = True
                    return
                kind = payload[:1]
                if kind == b"a":
                    stats.frames += 1
                    for message in loads(payload[1:]):
                        stats.record(float(message.partition(":")[2]), now)
                elif kind == b"o":
                    self.opened.set()
                elif kind == b"c":
                    self.closed = True
                    return
            del buffer[:pos]
            data = self.sock.recv(262144)
            buffer += data

    def close(self) -> None:
        self.greenlet.kill()
        self.sock.close()


def open_sessions(addresses: list[tuple[str, int]], count: int, stats: Stats) -> list[Session]:
    """``count`` sessions, round-robin over ``addresses``, 100 handshakes at a time."""
    pool = Pool(100)
    sessions = list(pool.imap(lambda i: Session(*addresses[i % len(addresses)], i, stats), range(count)))
    for session in sessions:
        if not session.opened.wait(30):
            raise RuntimeError("a session did not open")
    return sessions


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def run(label: str, addresses: list[tuple[str, int]], sessions_wanted: int, burst: int, one_by_one_count: int) -> None:
    stats = Stats()
    sessions = open_sessions(addresses, sessions_wanted, stats)
    publisher = sessions[0]  # on the first worker
    try:
        # Warm-up: one broadcast, everyone has it.
        stats.reset(len(sessions))
        publisher.send(f"0:{time.perf_counter()}")
        if not stats.done.wait(30):
            raise RuntimeError(f"warm-up: {stats.delivered} of {stats.expected} delivered")

        stats.reset(len(sessions) * burst)
        started = time.perf_counter()
        for i in range(burst):
            publisher.send(f"{i}:{time.perf_counter()}")
        if not stats.done.wait(120):
            raise RuntimeError(f"burst: {stats.delivered} of {stats.expected} delivered")
        elapsed = time.perf_counter() - started
        burst_latencies, burst_frames = stats.latencies, stats.frames

        # One broadcast at a time: every delivery is a frame of its own.
        stats.reset(0)
        one_by_one: list[float] = []
        started = time.perf_counter()
        for i in range(one_by_one_count):
            stats.reset(len(sessions))
            publisher.send(f"{i}:{time.perf_counter()}")
            if not stats.done.wait(30):
                raise RuntimeError(f"broadcast {i}: {stats.delivered} of {stats.expected} delivered")
            one_by_one += stats.latencies
        one_by_one_elapsed = time.perf_counter() - started
        one_by_one_latencies = one_by_one
        closed = sum(s.closed for s in sessions)
    finally:
        for session in sessions:
            session.close()

    one_rate = len(sessions) * one_by_one_count / one_by_one_elapsed
    print(f"{label}: {len(sessions)} websocket sessions")
    print(
        f"  one broadcast at a time ({one_by_one_count}): {one_rate:,.0f} deliveries/s; "
        f"latency p50 {percentile(one_by_one_latencies, 50) * 1000:.1f} ms, "
        f"p99 {percentile(one_by_one_latencies, 99) * 1000:.1f} ms"
    )
    print(
        f"  burst of {burst} back to back: {len(sessions) * burst / elapsed:,.0f} deliveries/s "
        f"in {burst_frames} frames (the server batches what queues up for a session); "
        f"latency p50 {percentile(burst_latencies, 50) * 1000:.0f} ms, "
        f"p99 {percentile(burst_latencies, 99) * 1000:.0f} ms" + (f"  ({closed} sessions closed!)" if closed else "")
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=200, help="broadcasts sent back to back")
    parser.add_argument(
        "--one-by-one", type=int, default=100, help="broadcasts sent each after the previous one arrived"
    )
    args = parser.parse_args(argv)

    processes: list[subprocess.Popen] = []
    try:
        worker, port = start_worker(None)
        processes.append(worker)
        run("a. 1 worker, in-process channels", [("127.0.0.1", port)], args.sessions, args.burst, args.one_by_one)
        stop(processes)
        processes.clear()

        redis, url = start_redis()
        processes.append(redis)
        ports = []
        for _ in range(3):
            worker, port = start_worker(url)
            processes.append(worker)
            ports.append(port)
        run("b. 3 workers via Redis", [("127.0.0.1", p) for p in ports], args.sessions, args.burst, args.one_by_one)
    finally:
        stop(processes)


if __name__ == "__main__":
    main()
