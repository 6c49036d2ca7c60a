"""The load generator: gevent, raw sockets, testkit's WebSocket framer and HTTP/1.1 client.

Everything here runs in the bench process (pinned to its own core). The
clients do the least work per message: request bytes and masked frames
are built once and reused (``http_request``, ``wsframe.encode``), and
answers are read by testkit.rawhttp's ``HttpConnection`` with no timeout
of its own (the socket's ``TIMEOUT`` bounds each recv).
"""

from __future__ import annotations

import os
import socket as _stdlib_socket
import time
from collections import Counter
from collections.abc import Callable

import gevent
from gevent import socket
from gevent.pool import Pool

from testkit.rawhttp import HttpConnection, ProtocolError, build_request
from testkit.wsframe import CLIENT_KEY, CLOSE, FrameReader, close_payload, encode, upgrade_request

HOST = "127.0.0.1"
TIMEOUT = 10.0  # per socket operation
MAX_READS = 100_000  # bound on chunks read while waiting for one frame of a stream
MAX_ROUNDS = 10_000_000  # bound on iterations of any worker loop
MESSAGE = ("sockjs-gevent-bench-" * 4)[:64]  # the 64-byte message

perf = time.perf_counter
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def connect(port: int, timeout: float = TIMEOUT) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, 1)
    return sock


def http_connection(port: int, timeout: float = TIMEOUT) -> HttpConnection:
    """A keep-alive HTTP/1.1 connection (TCP_NODELAY, ``timeout`` per socket operation)."""
    return HttpConnection(connect(port, timeout), HOST)


# -- WebSocket ---------------------------------------------------------------


class WsClient:
    """A client WebSocket: ``send_frame(bytes)``, ``read() -> (opcode, payload)``."""

    __slots__ = ("sock", "reader", "status")

    def __init__(self, port: int, path: str, key: str = CLIENT_KEY, timeout: float = TIMEOUT) -> None:
        self.sock = connect(port, timeout)
        handshake = HttpConnection(self.sock, HOST)
        handshake.send(upgrade_request(path, HOST, key))
        self.status = handshake.read_head().status
        if self.status != 101:
            self.sock.close()
            raise ProtocolError(f"handshake answered {self.status}")
        self.reader = FrameReader(self.sock, bytes(handshake.buf))

    def send_frame(self, frame: bytes) -> None:
        self.sock.sendall(frame)

    def read(self) -> tuple[int, bytes]:
        return self.reader.read()

    def read_data(self) -> bytes:
        """The next data frame's payload, skipping SockJS heartbeats and pings."""
        for _ in range(1000):
            opcode, payload = self.reader.read()
            if opcode == CLOSE:
                raise ProtocolError(f"closed by the server: {payload!r}")
            if opcode in (0x1, 0x2) and payload != b"h":
                return payload
        raise ProtocolError("no data frame")

    def close(self, wait: bool = True) -> None:
        """Send a close frame, wait (briefly) for the server's, hang up."""
        try:
            self.sock.sendall(encode(close_payload(1000), CLOSE))
            if wait:
                with gevent.Timeout(2.0, False):
                    for _ in range(100):
                        if self.reader.read()[0] == CLOSE:
                            break
        except (OSError, EOFError):
            pass
        finally:
            self.sock.close()


# -- HTTP/1.1 ----------------------------------------------------------------


#: The Content-Type of a request with a body (what a browser's xhr sends).
BODY_TYPE = [("Content-Type", "text/plain;charset=UTF-8")]


def http_request(method: str, path: str, body: bytes = b"") -> bytes:
    """A keep-alive HTTP/1.1 request, as bytes to send again and again."""
    return build_request(method, path, HOST, BODY_TYPE if body else (), body)


class XhrStream:
    """The receiving side of an xhr-streaming session, re-opened when the server ends it."""

    __slots__ = ("conn", "request", "pending", "reopens")

    def __init__(self, port: int, url: str) -> None:
        self.conn = http_connection(port)
        self.request = http_request("POST", url + "/xhr_streaming")
        self.pending = b""  # dechunked bytes not yet split into frames
        self.reopens = 0
        self._open()

    def _open(self) -> None:
        self.conn.send(self.request)
        status = self.conn.read_head().status
        if status != 200:
            raise ProtocolError(f"xhr_streaming answered {status}")

    def frame(self) -> bytes:
        """The next SockJS frame (prelude and heartbeats skipped)."""
        for _ in range(MAX_READS):
            end = self.pending.find(b"\n")
            if end >= 0:
                line, self.pending = self.pending[:end], self.pending[end + 1 :]
                if line and line[0] != 0x68:  # not the prelude nor "h"
                    return line
                continue
            data = self.conn.read_chunk()
            if data is None:  # response_limit reached: the client re-opens
                self.reopens += 1
                self._open()
            else:
                self.pending += data
        raise ProtocolError("no frame on the stream")

    def close(self) -> None:
        self.conn.close()


# -- Measurement -------------------------------------------------------------


class Samples:
    """Round-trip latencies completed inside the measured window."""

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end
        self.latencies: list[float] = []
        self.errors: list[str] = []
        #: CPU cores used in the window, by process name, and "machine" for all.
        self.cpu: dict[str, float] = {}
        #: Events worth reporting, by name (e.g. sessions that expired mid-run).
        self.counts: Counter[str] = Counter()

    def add(self, sent: float, done: float) -> None:
        if self.start <= done <= self.end:
            self.latencies.append(done - sent)

    @property
    def rate(self) -> float:
        return len(self.latencies) / (self.end - self.start)

    def percentile_ms(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000.0 * ordered[min(len(ordered) - 1, int(len(ordered) * p / 100.0))]

    def us_per_op(self, name: str) -> float | None:
        """CPU microseconds ``name`` spent per completed operation."""
        if name not in self.cpu or not self.latencies:
            return None
        return round(1e6 * self.cpu[name] / self.rate, 1)

    def summary(self) -> dict:
        return {
            "rate": round(self.rate, 1),
            "p50_ms": round(self.percentile_ms(50), 3),
            "p99_ms": round(self.percentile_ms(99), 3),
            "samples": len(self.latencies),
            "cpu_cores": {k: round(v, 2) for k, v in self.cpu.items()},
            "server_us_per_op": self.us_per_op("server"),
            "client_us_per_op": self.us_per_op("client"),
            "counts": dict(self.counts),
            "errors": self.errors[:5],
            "error_count": len(self.errors),
        }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    return cpu_split(pid)[0]


def cpu_split(pid: int) -> tuple[float, float]:
    """(user + system, system) CPU seconds a process has used: the second is its time in the kernel."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    system = int(fields[12])
    return (int(fields[11]) + system) / CLOCK_TICKS, system / CLOCK_TICKS


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def measure_cpu(samples: Samples, pids: dict[str, int]) -> None:
    """Record each process's CPU use inside the window, and the whole machine's."""
    gevent.sleep(max(0.0, samples.start - perf()))
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy0, total0 = machine_busy()
    gevent.sleep(max(0.0, samples.end - perf()))
    elapsed = samples.end - samples.start
    for name, pid in pids.items():
        try:
            samples.cpu[name] = (cpu_seconds(pid) - before[name]) / elapsed
        except OSError:
            pass
    busy1, total1 = machine_busy()
    samples.cpu["machine"] = (busy1 - busy0) / max(1, total1 - total0) * os.cpu_count()


def open_all(count: int, opener: Callable[[int], object], concurrency: int = 50, timeout: float = 60.0) -> list:
    """Open ``count`` sessions with at most ``concurrency`` handshakes at a time."""
    pool = Pool(concurrency)
    with gevent.Timeout(timeout):
        return list(pool.imap(opener, range(count)))


def run_loops(
    sessions: list, loop: Callable[[object, Samples, float], None], duration: float, warmup: float, server_pid: int = 0
) -> Samples:
    """Run ``loop(session, samples, end)`` for every session; measure after ``warmup``.

    With ``server_pid``, the server's and this process's CPU use are measured too.
    """
    start = perf() + warmup
    samples = Samples(start, start + duration)
    pids = {"client": os.getpid(), **({"server": server_pid} if server_pid else {})}
    meter = gevent.spawn(measure_cpu, samples, pids)

    def guarded(session: object) -> None:
        try:
            loop(session, samples, samples.end)
        except Exception as exc:  # one failing session must not hide the others' figures
            samples.errors.append(f"{type(exc).__name__}: {exc}")

    workers = [gevent.spawn(guarded, s) for s in sessions]
    gevent.joinall(workers, timeout=warmup + duration + 2 * TIMEOUT)
    gevent.killall(workers, timeout=5)
    meter.join(timeout=5)
    return samples


def run_workers(
    count: int, loop: Callable[[int, Samples, float], None], duration: float, warmup: float, server_pid: int = 0
) -> Samples:
    """Like run_loops, for workers that open their own connections (worker index given)."""
    return run_loops(list(range(count)), loop, duration, warmup, server_pid)
