"""The load generator: gevent, raw sockets, minimal WebSocket and HTTP/1.1 clients.

Everything here runs in the bench process (pinned to its own core). The
clients do the least work per message: request bytes and masked frames
are built once and reused, responses are parsed just enough to find the
frame inside.
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

from testkit.wsframe import CLIENT_KEY, CLOSE, FrameReader, close_payload, encode, upgrade_request

HOST = "127.0.0.1"
TIMEOUT = 10.0  # per socket operation
MAX_HEAD = 65536
MAX_READS = 100_000  # bound on recv calls for one HTTP head or chunk
MAX_ROUNDS = 10_000_000  # bound on iterations of any worker loop
MESSAGE = ("sockjs-gevent-bench-" * 4)[:64]  # the 64-byte message

perf = time.perf_counter
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ProtocolError(Exception):
    """The server answered something the benchmark did not expect."""


def connect(port: int, timeout: float = TIMEOUT) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, 1)
    return sock


# -- WebSocket ---------------------------------------------------------------


def read_head(sock: socket.socket, buf: bytearray) -> bytes:
    """Read until the end of an HTTP head; returns it and leaves the rest in ``buf``."""
    for _ in range(MAX_READS):
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buf[:end])
            del buf[: end + 4]
            return head
        if len(buf) > MAX_HEAD:
            raise ProtocolError("HTTP head too long")
        data = sock.recv(65536)
        if not data:
            raise EOFError("connection closed before the end of the HTTP head")
        buf += data
    raise ProtocolError("HTTP head never ended")


def status_of(head: bytes) -> int:
    return int(head.split(b" ", 2)[1])


class WsClient:
    """A client WebSocket: ``send_frame(bytes)``, ``read() -> (opcode, payload)``."""

    __slots__ = ("sock", "reader", "status")

    def __init__(self, port: int, path: str, key: str = CLIENT_KEY, timeout: float = TIMEOUT) -> None:
        self.sock = connect(port, timeout)
        self.sock.sendall(upgrade_request(path, HOST, key))
        buf = bytearray()
        head = read_head(self.sock, buf)
        self.status = status_of(head)
        if self.status != 101:
            self.sock.close()
            raise ProtocolError(f"handshake answered {self.status}")
        self.reader = FrameReader(self.sock, bytes(buf))

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


def http_request(method: str, path: str, body: bytes = b"") -> bytes:
    """A keep-alive HTTP/1.1 request, as bytes to send again and again."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n"
    if body:
        head += "Content-Type: text/plain;charset=UTF-8\r\n"
    return (head + "\r\n").encode("latin-1") + body


def header_value(head: bytes, wanted: bytes) -> bytes | None:
    """The value of header ``wanted`` (lower-case name) in a raw head, or None."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == wanted:
            return value.strip()
    return None


def content_length(head: bytes) -> int:
    value = header_value(head, b"content-length")
    if value is None:
        raise ProtocolError("expected Content-Length")
    return int(value)


class HttpConn:
    """One keep-alive connection: send a request, read the head, the body or chunks."""

    __slots__ = ("sock", "buf")

    def __init__(self, port: int, timeout: float = TIMEOUT) -> None:
        self.sock = connect(port, timeout)
        self.buf = bytearray()

    def send(self, request: bytes) -> None:
        self.sock.sendall(request)

    def head(self) -> tuple[int, bytes]:
        """(status, raw head); the head's header names are matched case-insensitively later."""
        head = read_head(self.sock, self.buf)
        return status_of(head), head

    def _fill(self, n: int) -> None:
        buf = self.buf
        for _ in range(MAX_READS):
            if len(buf) >= n:
                return
            data = self.sock.recv(262144)
            if not data:
                raise EOFError("connection closed in a response body")
            buf += data
        raise ProtocolError("body never completed")

    def _line(self) -> bytes:
        buf = self.buf
        for _ in range(MAX_READS):
            end = buf.find(b"\r\n")
            if end >= 0:
                line = bytes(buf[:end])
                del buf[: end + 2]
                return line
            self._fill(len(buf) + 1)
        raise ProtocolError("line never ended")

    def body(self, status: int, head: bytes) -> bytes:
        """The whole body of a response with Content-Length or chunked (sockjs-node's polls)."""
        if status in (204, 304):
            return b""
        if b"content-length" not in head.lower():
            encoding = header_value(head, b"transfer-encoding")
            if encoding is not None and encoding.lower() == b"chunked":
                chunks = []
                for _ in range(MAX_READS):
                    chunk = self.chunk()
                    if chunk is None:
                        return b"".join(chunks)
                    chunks.append(chunk)
                raise ProtocolError("chunked body never ended")
        length = content_length(head)
        self._fill(length)
        data = bytes(self.buf[:length])
        del self.buf[:length]
        return data

    def chunk(self) -> bytes | None:
        """The next chunk of a chunked body; None after the last one."""
        size = int(self._line().split(b";", 1)[0], 16)
        if size == 0:
            self._line()  # the empty line after the last chunk (no trailers)
            return None
        self._fill(size + 2)
        data = bytes(self.buf[:size])
        del self.buf[: size + 2]
        return data

    def close(self) -> None:
        self.sock.close()


class XhrStream:
    """The receiving side of an xhr-streaming session, re-opened when the server ends it."""

    __slots__ = ("conn", "request", "pending", "reopens")

    def __init__(self, port: int, url: str) -> None:
        self.conn = HttpConn(port)
        self.request = http_request("POST", url + "/xhr_streaming")
        self.pending = b""  # dechunked bytes not yet split into frames
        self.reopens = 0
        self._open()

    def _open(self) -> None:
        self.conn.send(self.request)
        status, _ = self.conn.head()
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
            data = self.conn.chunk()
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
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


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
