"""Idle mode (--idle N): N idle websocket sessions on one server process, held, then checked.

Opens N SockJS websocket sessions (``/echo/<server>/<session>/websocket``),
``--concurrency`` handshakes at a time, holds them ``--duration`` seconds
while the server's heartbeats (``--heartbeat-delay``) flow, then checks
every session still hears heartbeats and that ``--idle-echo`` of them
(default all) still echo a message once; then closes them all and checks
the server frees them. It reports the open rate, server RSS before / after
opening / at the end and per session, server CPU per heartbeat while idle,
descriptors, the client's own RSS and CPU per session, and errors by kind.

The client has to stay cheap at 100,000 sessions, or it, not the server,
would bound the heartbeat flow. So a session is a greenlet only while it
opens (the raw client's ``connect`` and an HTTP/1.1 upgrade); once the
``o`` frame is read, the socket is detached to a bare descriptor and
registered in one ``select.epoll``, whose own descriptor is watched by one
gevent io watcher. A session is then a few slots in flat arrays (fd, state,
last frame time, heartbeat count) and one dict entry; a heartbeat costs
one ``os.read`` and a byte comparison, and many are handled per wakeup.

Before anything is opened, ``prepare`` sizes what would otherwise stop the
run midway: RLIMIT_NOFILE of both processes (N + 1024), the source
addresses for the ephemeral port range (one source address reaches one
server port through at most ip_local_port_range ports), and warns about
conntrack, fs.nr_open, the listen backlog and memory. ``idle`` then runs
one function per phase (``start_run``, ``open_phase``, ``hold_phase``,
``check_phase``, ``close_phase``), each returning what it measured, and
reports (``print_summary``, ``outcome``).
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import random
import resource
import select
import socket as _socket
import sys
from array import array
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent.pool import Pool

from testkit.rawhttp import HttpConnection, ProtocolError
from testkit.serverproc import raise_nofile
from testkit.wsframe import CLOSE, OPCODE, PING, PONG, TEXT, encode, frame_at, parse_close, upgrade_request

from .rawclient import HOST, IO_TIMEOUT, connect, now, random_id
from .serverproc import (
    NOFILE,
    Server,
    cpu_seconds,
    fd_count,
    nofile_limit,
    proc_status,
    rss_mb,
    server_closes,
    server_counts,
    server_errors,
)
from .tally import T, fmt_errors, percentile, verdict

OPEN_FRAME = b"\x81\x01o"  # the server's first frame: unmasked text "o"
HEARTBEAT = b"\x81\x01h"  # unmasked text "h"
CLOSE_1000 = (1000).to_bytes(2, "big")
NEW, OPEN, CLOSING, CLOSED, FAILED = range(5)
GAP_STEP = 0.1  # heartbeat-interval histogram: 0.1 s buckets ...
GAP_TOP = 600  # ... up to 60 s (the last bucket holds everything longer)
PORT_USE = 0.75  # plan for at most this share of each source address's ephemeral ports
SERVER_BACKLOG = 128  # gevent StreamServer's default listen backlog


def read_int_file(path: str) -> list[int] | None:
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return None


def mem_available_mb() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return -1.0


CAP_SYS_RESOURCE = 24
FD_RESERVE = 64  # descriptors each process keeps for itself beyond the sessions


def has_cap(bit: int, field: str = "CapEff") -> bool:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return bool(int(line.split()[1], 16) >> bit & 1)
    except (OSError, ValueError):
        pass
    return False


def machine_load() -> str:
    """Load average and CPU pressure: other work on the machine slows the wall-clock figures."""
    parts = []
    try:
        with open("/proc/loadavg") as f:
            parts.append("load " + " ".join(f.read().split()[:3]))
    except OSError:
        pass
    try:
        with open("/proc/pressure/cpu") as f:
            some = f.readline().split()
            parts.append("cpu pressure " + " ".join(x for x in some[1:3]))
    except (OSError, IndexError):
        pass
    return f"{os.cpu_count()} cpus, " + ", ".join(parts)


def exc_kind(exc: BaseException) -> str:
    """A short name for an error: the errno's name (EADDRNOTAVAIL, EMFILE...) where there is one."""
    if isinstance(exc, (_socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, EOFError):
        return "eof"
    if isinstance(exc, ProtocolError):
        return "protocol"
    if isinstance(exc, OSError) and exc.errno is not None and exc.errno in errno.errorcode:
        return errno.errorcode[exc.errno]
    return type(exc).__name__


def prepare(args: argparse.Namespace) -> None:
    """Size descriptors and source addresses for N sessions, and say what else could stop the run.

    Runs before the server starts (it inherits RLIMIT_NOFILE and the run uses
    ``args.source_ips``); exits when the run cannot fit.
    """
    n = args.idle
    problems = []
    if args.nofile is None:
        args.nofile = max(NOFILE, n + 1024)
    nr_open = (read_int_file("/proc/sys/fs/nr_open") or [0])[0]
    if nr_open and args.nofile > nr_open:
        problems.append(
            f"--nofile {args.nofile} is above fs.nr_open ({nr_open}), which caps every process's "
            f"RLIMIT_NOFILE: sysctl -w fs.nr_open={args.nofile}"
        )
    soft = raise_nofile(args.nofile)  # the server inherits this, and raises its own the same way
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    print(
        f"idle: descriptors: RLIMIT_NOFILE soft {soft}, hard {hard} (asked for {args.nofile}); each process needs "
        f"{n} + {FD_RESERVE} kept for /proc, /stats and logs",
        flush=True,
    )
    if soft < n + FD_RESERVE:
        bounding = "" if has_cap(CAP_SYS_RESOURCE, "CapBnd") else " (not even in its bounding set)"
        why = (
            f"this process lacks CAP_SYS_RESOURCE{bounding}, so the hard limit ({hard}) cannot be raised"
            if not has_cap(CAP_SYS_RESOURCE)
            else f"setrlimit refused {args.nofile}"
        )
        problems.append(
            f"RLIMIT_NOFILE is {soft}: {why}; one server process can hold at most {soft - FD_RESERVE} "
            f"sessions here, not {n}. Raise the hard limit where it is set (ulimit -Hn, systemd LimitNOFILE=, "
            "limits.conf); with CAP_SYS_RESOURCE (root, usually) this script raises it itself"
        )
    lo, hi = (read_int_file("/proc/sys/net/ipv4/ip_local_port_range") or [32768, 60999])[:2]
    ports = hi - lo + 1
    per_source = int(ports * PORT_USE)
    want_ips = math.ceil(n / per_source)
    if want_ips > 253:
        raise SystemExit(f"{n} sessions need {want_ips} source addresses of {ports} ports each; 127.0.0.2-254 give 253")
    if args.source_ips < want_ips:
        print(
            f"idle: --source-ips raised from {args.source_ips} to {want_ips} ({n} sessions, "
            f"{ports} ephemeral ports per source address, planning to use {PORT_USE:.0%} of them)",
            flush=True,
        )
        args.source_ips = want_ips
    sources = max(1, args.source_ips)
    print(
        f"idle: ports: ip_local_port_range {lo}-{hi} = {ports} per source address; {sources} source addresses "
        f"= {sources * ports} connections to one server port possible, {math.ceil(n / sources)} per address used",
        flush=True,
    )
    conn_max = read_int_file("/proc/sys/net/netfilter/nf_conntrack_max")
    conn_now = read_int_file("/proc/sys/net/netfilter/nf_conntrack_count")
    if conn_max:
        free = conn_max[0] - (conn_now or [0])[0]
        note = (
            ""
            if free > n * 1.1
            else "  <-- too few: new connections would be dropped; raise net.netfilter.nf_conntrack_max"
        )
        print(f"idle: conntrack: {free} of {conn_max[0]} entries free for {n} connections{note}", flush=True)
    file_max = read_int_file("/proc/sys/fs/file-nr")
    if file_max and file_max[2] - file_max[0] < 2 * n + 1000:
        print(
            f"warning: fs.file-max leaves {file_max[2] - file_max[0]} open files for the {2 * n} this run needs",
            file=sys.stderr,
        )
    if args.concurrency > SERVER_BACKLOG:
        print(
            f"warning: --concurrency {args.concurrency} is above the server's listen backlog ({SERVER_BACKLOG}); "
            "connects beyond it wait for SYN retransmits",
            file=sys.stderr,
        )
    # 25 KiB per session in the server (the soak measured 22), ~2 KiB per socket in the kernel, both ends
    estimate = n * (25 + 2 * 2 + 1) / 1024.0
    avail = mem_available_mb()
    print(
        f"idle: memory: about {estimate:.0f} MB needed (server ~25 KiB/session, kernel ~4, client ~1), "
        f"{avail:.0f} MB available",
        flush=True,
    )
    if avail > 0 and estimate > avail * 0.9:
        print("warning: this may not fit in memory", file=sys.stderr)
    print(f"idle: machine: {machine_load()}", flush=True)
    for problem in problems:
        print(f"idle: CANNOT: {problem}", file=sys.stderr, flush=True)
    if problems and not args.ignore_limits:
        raise SystemExit("idle: stopped before opening anything (--ignore-limits opens anyway, to see where it stops)")


class Snap:
    """Server and client RSS, descriptors and CPU at one moment."""

    __slots__ = ("t", "srv_rss", "srv_fds", "srv_cpu", "cli_rss", "cli_cpu", "heartbeats")

    def __init__(self, pid: int, heartbeats: int) -> None:
        me = os.getpid()
        self.t = now()
        self.srv_rss = rss_mb(pid)
        self.srv_fds = fd_count(pid)
        self.srv_cpu = cpu_seconds(pid)
        self.cli_rss = rss_mb(me)
        self.cli_cpu = cpu_seconds(me)
        self.heartbeats = heartbeats


class IdleClient:
    """N websocket sessions, each a few slots in flat arrays once open; one epoll reads them all."""

    def __init__(self, n: int, heartbeat_delay: float) -> None:
        self.n = n
        self.state = bytearray(n)  # NEW, OPEN, CLOSING, CLOSED, FAILED
        self.fd = array("i", [-1]) * n
        self.last = array("d", [0.0]) * n  # time of the last frame heard (the open frame to begin with)
        self.beats = array("I", [0]) * n
        self.by_fd: dict[int, int] = {}
        self.partial: dict[int, bytes] = {}  # an incomplete frame, by session
        self.pending: dict[int, float] = {}  # echo sent at, by session
        self.rtts: list[float] = []
        self.echoed = 0
        self.heartbeats = 0
        self.gaps = [0] * (GAP_TOP + 1)  # heartbeat intervals, GAP_STEP buckets
        self.max_gap = 0.0
        self.late_after = 1.5 * heartbeat_delay
        self.late = 0  # heartbeats that came more than 1.5 heartbeat delays after the previous frame
        self.opened = 0
        self.open = 0  # OPEN now
        self.failed = 0  # failed to open
        self.lost = 0  # OPEN sessions that died
        self.closing = 0  # CLOSING now: our close frame sent, the server's not yet seen
        self.closed = 0  # closed by our close handshake
        self.first_failure: str | None = None
        self.ep = select.epoll()
        self.watcher = gevent.get_hub().loop.io(self.ep.fileno(), 1)
        self.watcher.start(self.on_ready)

    # -- opening -------------------------------------------------------------

    def open_one(self, i: int) -> None:
        """Connect, upgrade, read the o frame; then hand the descriptor to the epoll."""
        request = upgrade_request(f"/echo/{random.randrange(1000):03d}/{random_id()}/websocket", HOST)
        sock = None
        try:
            sock = connect(IO_TIMEOUT)
            handshake = HttpConnection(sock, HOST)
            handshake.send(request)
            status = handshake.read_head().status
            if status != 101:
                raise ProtocolError(f"handshake answered {status}")
            first = handshake.read_exactly(3)
            if first != OPEN_FRAME:
                raise ProtocolError(f"first frame was {first + bytes(handshake.buf[:17])!r}, not o")
            rest = bytes(handshake.buf)  # what came after the o frame
            fd = sock.detach()
            sock = None
        except Exception as exc:
            if sock is not None:
                sock.close()
            self.state[i] = FAILED
            self.failed += 1
            kind = "open_" + exc_kind(exc)
            T.error(kind, f"session {i}: {exc!r}")
            if self.first_failure is None:
                self.first_failure = f"session {i} ({self.opened} open): {exc!r}"
            return
        t = now()
        self.fd[i] = fd
        self.by_fd[fd] = i
        self.last[i] = t
        self.state[i] = OPEN
        self.opened += 1
        self.open += 1
        self.ep.register(fd, select.EPOLLIN)
        if rest:
            self.feed(i, rest, t)

    # -- reading -------------------------------------------------------------

    def on_ready(self) -> None:
        """The epoll has something: read up to 1024 ready sockets (the rest wake us again)."""
        try:
            events = self.ep.poll(0, 1024)
        except InterruptedError:
            return
        t = now()
        by_fd, last, beats, gaps, partial = self.by_fd, self.last, self.beats, self.gaps, self.partial
        read = os.read
        count = late = 0
        late_after, max_gap = self.late_after, self.max_gap
        try:
            for fd, _ in events:
                i = by_fd.get(fd)
                if i is None:
                    continue
                try:
                    data = read(fd, 65536)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    self.die(i, "read_" + exc_kind(exc), repr(exc))
                    continue
                if data == HEARTBEAT and not (partial and i in partial):
                    gap = t - last[i]
                    last[i] = t
                    beats[i] += 1
                    count += 1
                    gaps[min(int(gap / GAP_STEP), GAP_TOP)] += 1
                    if gap > late_after:
                        late += 1
                    if gap > max_gap:
                        max_gap = gap
                elif not data:
                    self.die(i, "eof", f"session {i}: the server closed the connection")
                else:
                    self.feed(i, data, t)
        except Exception as exc:  # a bug here must be counted, not stop the reading
            T.error("reader_" + type(exc).__name__, repr(exc))
        self.heartbeats += count
        self.late += late
        self.max_gap = max_gap

    def feed(self, i: int, data: bytes, t: float) -> None:
        """Unframe server frames (unmasked) and act on each; keep an incomplete one."""
        held = self.partial.pop(i, None)
        if held is not None:
            data = held + data
        pos, n = 0, len(data)
        while self.fd[i] >= 0 and (frame := frame_at(data, pos)) is not None:
            first, payload, pos, _ = frame
            self.on_frame(i, first & OPCODE, payload, t)
        if pos < n and self.fd[i] >= 0:
            self.partial[i] = data[pos:]

    def on_frame(self, i: int, opcode: int, payload: bytes, t: float) -> None:
        if opcode == TEXT:
            c = payload[:1]
            if c == b"h":
                gap = t - self.last[i]
                self.beats[i] += 1
                self.heartbeats += 1
                self.gaps[min(int(gap / GAP_STEP), GAP_TOP)] += 1
                self.late += gap > self.late_after
                self.max_gap = max(self.max_gap, gap)
            elif c == b"a":
                try:
                    messages = json.loads(payload[1:])
                except ValueError:
                    T.error("bad_frame", f"session {i}: {payload[:100]!r}")
                    return
                for m in messages:
                    sent = self.pending.pop(i, None) if m == f"I:{i}" else None
                    if sent is None:
                        T.error("unexpected_message", f"session {i}: {m!r:.80}")
                    else:
                        self.echoed += 1
                        self.rtts.append(t - sent)
            elif c == b"c":
                if self.state[i] != CLOSING:
                    T.error("sockjs_close", f"session {i}: {payload[:100]!r}")
            elif c == b"o":
                T.error("second_open_frame", f"session {i}")
            else:
                T.error("bad_frame", f"session {i}: {payload[:100]!r}")
            self.last[i] = t
        elif opcode == CLOSE:
            if self.state[i] == CLOSING:
                self.closed += 1
                self.end(i, CLOSED)
            else:
                self.die(i, f"ws_close_{parse_close(payload)[0]}", f"session {i}: {payload[:100]!r}")
        elif opcode == PING:
            self.write(i, encode(payload, PONG))
        elif opcode != PONG:
            T.error(f"ws_opcode_{opcode}", f"session {i}")

    # -- writing and ending --------------------------------------------------

    def write(self, i: int, frame: bytes) -> bool:
        """One small frame to an idle socket: its send buffer is empty, so it goes at once or never."""
        try:
            sent = os.write(self.fd[i], frame)
        except OSError as exc:
            self.die(i, "send_" + exc_kind(exc), f"session {i}: {exc!r}")
            return False
        if sent != len(frame):
            self.die(i, "send_partial", f"session {i}: {sent} of {len(frame)} bytes")
            return False
        return True

    def end(self, i: int, state: int) -> None:
        """Leave OPEN or CLOSING for ``state`` and let the descriptor go."""
        old = self.state[i]
        if old == CLOSING:
            self.closing -= 1
        if old in (OPEN, CLOSING):
            self.open -= 1
        self.state[i] = state
        self.release(i)

    def release(self, i: int) -> None:
        fd = self.fd[i]
        if fd < 0:
            return
        self.fd[i] = -1
        del self.by_fd[fd]
        self.partial.pop(i, None)
        try:
            self.ep.unregister(fd)
        except OSError:
            pass
        os.close(fd)

    def die(self, i: int, kind: str, detail: str) -> None:
        """The connection ended or failed: an error unless we were closing it."""
        old = self.state[i]
        if old == CLOSING and kind == "eof":  # the server hung up after our close frame: fine
            self.closed += 1
            self.end(i, CLOSED)
            return
        T.error(kind, detail)
        if old == OPEN:
            self.lost += 1
        self.end(i, CLOSED if old == CLOSED else FAILED)

    def stop(self) -> None:
        self.watcher.stop()
        for i in range(self.n):
            self.release(i)
        self.ep.close()

    # -- checks --------------------------------------------------------------

    def silent(self, limit: float) -> list[int]:
        """Open sessions that heard nothing for more than ``limit`` seconds."""
        cutoff = now() - limit
        state, last = self.state, self.last
        return [i for i in range(self.n) if state[i] == OPEN and last[i] < cutoff]

    def echo_all(self, which: list[int], window: int, timeout: float) -> None:
        """Each chosen open session sends I:<i> once and must get it back; ``window`` in flight at most."""
        pending = self.pending
        last_check = now()

        def expire(older_than: float) -> None:
            for i, sent in list(pending.items()):
                if sent < older_than:
                    del pending[i]
                    T.error("echo_timeout", f"session {i}: no echo in {timeout} s")

        for i in which:
            if self.state[i] != OPEN:
                continue
            while len(pending) >= window:
                gevent.sleep(0.002)
                if now() - last_check > 1.0:
                    last_check = now()
                    expire(last_check - timeout)
            pending[i] = now()
            if not self.write(i, encode(json.dumps([f"I:{i}"]).encode("ascii"))):
                pending.pop(i, None)
        deadline = now() + timeout
        while pending and now() < deadline:
            gevent.sleep(0.01)
        expire(float("inf"))

    def close_all(self, window: int, timeout: float) -> None:
        """Close handshake on every open session, ``window`` at a time; the reader sees the answers."""
        deadline = now() + timeout
        for i in range(self.n):
            if self.state[i] != OPEN:
                continue
            while self.closing >= window and now() < deadline:
                gevent.sleep(0.002)
            self.state[i] = CLOSING
            self.closing += 1
            self.write(i, encode(CLOSE_1000, CLOSE))
        while self.closing and now() < deadline:
            gevent.sleep(0.05)
        for i in range(self.n):
            if self.state[i] == CLOSING:
                T.error("close_timeout", f"session {i}")
                self.end(i, FAILED)


@dataclass
class Run:
    """What the phases of one idle run share: the server, the client, and the report rows printed so far."""

    args: argparse.Namespace
    server: Server
    client: IdleClient
    srv_limit: int  # RLIMIT_NOFILE of the server ...
    cli_limit: int  # ... and of this process
    load_start: str  # machine_load() before opening
    base: Snap  # before any session
    started: float = field(default_factory=now)
    phase: str = "opening"
    rows: list[dict[str, Any]] = field(default_factory=list)
    prev: Snap | None = None  # at the previous report line (None: base)
    prev_opened: int = 0

    @property
    def silent_after(self) -> float:
        return 2 * self.args.heartbeat_delay + 5  # the soak's rule

    def report_line(self) -> dict[str, Any]:
        """One row: sessions open on both sides, RSS, CPU and heartbeats since the previous row; errors."""
        client = self.client
        stats = self.server.stats()
        s_open, s_reg = server_counts(stats)
        snap = Snap(self.server.pid, client.heartbeats)
        p = self.prev or self.base
        span = max(1e-6, snap.t - p.t)
        row = {
            "t": round(snap.t - self.started),
            "phase": self.phase,
            "client_open": client.open,
            "failed": client.failed,
            "server_open": s_open,
            "server_registered": s_reg,
            "open_per_s": round((client.opened - self.prev_opened) / span),
            "server_rss_mb": round(snap.srv_rss, 1),
            "server_fds": snap.srv_fds,
            "server_cpu_pct": round(100 * (snap.srv_cpu - p.srv_cpu) / span, 1),
            "client_rss_mb": round(snap.cli_rss, 1),
            "client_cpu_pct": round(100 * (snap.cli_cpu - p.cli_cpu) / span, 1),
            "heartbeats_per_s": round((snap.heartbeats - p.heartbeats) / span),
            "late": client.late,
            "max_gap_s": round(client.max_gap, 2),
            "errors": dict(T.errors),
            "server_errors": dict(server_errors(stats)),
        }
        self.prev, self.prev_opened = snap, client.opened
        self.rows.append(row)
        print(
            f"{row['t']:>5} {row['phase']:<8} {client.open:>7} {client.failed:>5} {s_open:>7} {row['open_per_s']:>6} "
            f"{row['server_rss_mb']:>8.1f} {row['server_fds']:>7} {row['server_cpu_pct']:>6.1f} "
            f"{row['client_rss_mb']:>7.1f} {row['client_cpu_pct']:>6.1f} {row['heartbeats_per_s']:>6} "
            f"{client.late:>6} {client.max_gap:>6.1f}  {fmt_errors(T.errors)} srv:{fmt_errors(server_errors(stats))}",
            flush=True,
        )
        return row

    def reporter(self) -> None:
        """The header, then a row every --interval seconds (a greenlet, killed once the server expired all)."""
        print(
            f"{'t(s)':>5} {'phase':<8} {'c_open':>7} {'fail':>5} {'s_open':>7} {'open/s':>6} {'srvRSS':>8} "
            f"{'s_fds':>7} {'srvCPU':>6} {'cliRSS':>7} {'cliCPU':>6} {'hb/s':>6} {'late':>6} {'maxgap':>6}  errors",
            flush=True,
        )
        while True:
            gevent.sleep(self.args.interval - (now() - self.started) % self.args.interval)
            self.report_line()


@dataclass
class Opened:
    """The open phase: how long it took, and where and why it stopped early."""

    time: float
    cpu: Snap  # just after the last handshake
    snap: Snap  # at the report line 2 s later
    stopped_at: int | None
    stop_reason: str


@dataclass
class Held:
    """The hold: snapshots at its start and end, and the heartbeats' intervals and lateness within it."""

    start: Snap
    end: Snap
    load_end: str  # machine_load() at its end
    gaps: list[int]  # the heartbeat-interval histogram of the hold alone
    late: int
    max_gap: float
    late_so_far: int  # client.late at its end, where the echo check's count starts
    seen_silent: set[int]


@dataclass
class Checked:
    """The echo check after the hold, and the server's /stats before the close."""

    silent_end: list[int]
    never: int  # open sessions that never heard a heartbeat
    alive: list[int]
    echoes: int  # sessions that sent one
    window: int
    time: float
    row: dict[str, Any]  # the report line after it
    beats: int
    late: int
    max_gap: float
    stats: dict[str, Any] | None
    beats_per_session: list[int]  # sorted, over the whole run


@dataclass
class Closed:
    """After the close and the server's expiry: the last row, /stats, peak RSS, the server's exit status."""

    row: dict[str, Any]
    stats: dict[str, Any] | None
    hwm: float
    code: int


def idle(args: argparse.Namespace, server: Server) -> int:
    run = start_run(args, server)
    if run is None:
        return 1
    reporter = gevent.spawn(run.reporter)
    opened = open_phase(run)
    held = hold_phase(run)
    checked = check_phase(run, held)
    closed = close_phase(run, reporter)
    print_summary(run, opened, held, checked, closed)
    return outcome(run, opened, held, checked, closed)


def start_run(args: argparse.Namespace, server: Server) -> Run | None:
    """The baseline before any session; None (the server stopped) when the descriptors cannot fit N sessions."""
    n = args.idle
    pid = server.pid
    gevent.sleep(1.0)
    srv_limit, cli_limit = nofile_limit(pid), nofile_limit(os.getpid())
    print(
        f"server pid {pid} port {server.port}: RSS {rss_mb(pid):.1f} MB, {fd_count(pid)} fds before any session; "
        f"RLIMIT_NOFILE server {srv_limit}, client {cli_limit}",
        flush=True,
    )
    fit = min(srv_limit, cli_limit) - FD_RESERVE
    if fit < n:
        print(
            f"idle: CANNOT: RLIMIT_NOFILE (server {srv_limit}, client {cli_limit}) leaves room for {fit} sessions, "
            f"not {n}" + ("; opening anyway (--ignore-limits)" if args.ignore_limits else ""),
            flush=True,
        )
        if not args.ignore_limits:
            server.stop()
            return None
    client = IdleClient(n, args.heartbeat_delay)
    load_start = machine_load()
    return Run(args, server, client, srv_limit, cli_limit, load_start, Snap(pid, 0))


def open_phase(run: Run) -> Opened:
    """Open the N sessions, --concurrency handshakes at a time; stop early at too many failures or the fd limit."""
    args, client, n = run.args, run.client, run.args.idle
    pool = Pool(args.concurrency)
    stopped_at: int | None = None
    stop_reason = ""
    for i in range(n):
        if client.failed >= args.max_open_errors:
            stop_reason = f"{client.failed} sessions failed to open (--max-open-errors)"
        elif client.open + len(pool) >= run.cli_limit - FD_RESERVE:
            stop_reason = (
                f"this process's RLIMIT_NOFILE ({run.cli_limit}) is reached: {client.open} open + "
                f"{len(pool)} opening + {FD_RESERVE} kept for /proc and /stats"
            )
        if stop_reason:
            stopped_at = i
            break
        pool.spawn(client.open_one, i)
    pool.join()
    open_time = now() - run.started
    after_open_cpu = Snap(run.server.pid, client.heartbeats)
    print(
        f"opened {client.opened}/{n} sessions in {open_time:.1f} s ({client.opened / max(open_time, 1e-9):.0f}/s, "
        f"{args.concurrency} handshakes at a time); {client.failed} failed"
        + (f"; STOPPED opening at session {stopped_at}: {stop_reason}" if stopped_at is not None else ""),
        flush=True,
    )
    if client.first_failure:
        print(f"    first failure: {client.first_failure}", flush=True)
    gevent.sleep(2.0)
    run.report_line()
    assert run.prev is not None  # that line's snapshot
    return Opened(open_time, after_open_cpu, run.prev, stopped_at, stop_reason)


def hold_phase(run: Run) -> Held:
    """Hold the sessions --duration seconds while heartbeats flow, noting every session that falls silent."""
    client = run.client
    run.phase = "idle"
    hold_start = Snap(run.server.pid, client.heartbeats)
    late0, gaps0 = client.late, list(client.gaps)
    client.max_gap = 0.0  # opening is over: from here on, the idle heartbeats only
    seen_silent: set[int] = set()
    end_hold = hold_start.t + run.args.duration
    while now() < end_hold:
        gevent.sleep(min(run.args.interval, max(0.0, end_hold - now())))
        for i in client.silent(run.silent_after):
            if i not in seen_silent:
                seen_silent.add(i)
                T.error("silent", f"session {i}: nothing for over {run.silent_after:.0f} s")
    hold_end = Snap(run.server.pid, client.heartbeats)
    load_end = machine_load()
    gaps = [a - b for a, b in zip(client.gaps, gaps0, strict=True)]
    held = Held(hold_start, hold_end, load_end, gaps, client.late - late0, client.max_gap, client.late, seen_silent)
    client.max_gap = 0.0  # from here on: the echo check
    run.report_line()
    return held


def check_phase(run: Run, held: Held) -> Checked:
    """Every open session must still hear heartbeats, and --idle-echo of them (default all) echo a message once."""
    args, client, n = run.args, run.client, run.args.idle
    run.phase = "check"
    silent_end = client.silent(run.silent_after)
    for i in silent_end:
        if i not in held.seen_silent:
            T.error("silent", f"session {i}: nothing for over {run.silent_after:.0f} s at the end")
    never = sum(1 for i in range(n) if client.state[i] == OPEN and client.beats[i] == 0)
    alive = [i for i in range(n) if client.state[i] == OPEN]
    k = len(alive) if args.idle_echo is None else min(args.idle_echo, len(alive))
    sample = alive if k == len(alive) else sorted(random.sample(alive, k))
    t0 = now()
    window = max(100, args.concurrency * 10)
    client.echo_all(sample, window=window, timeout=args.timeout)
    echo_time = now() - t0
    print(
        f"echo check: {k} sessions sent one message ({window} in flight at most), {client.echoed} came back "
        f"in {echo_time:.1f} s",
        flush=True,
    )
    row = run.report_line()
    beats = client.heartbeats - held.end.heartbeats
    late, max_gap = client.late - held.late_so_far, client.max_gap
    stats = run.server.stats()
    per_session = sorted(client.beats[i] for i in alive) or [0]
    return Checked(silent_end, never, alive, k, window, echo_time, row, beats, late, max_gap, stats, per_session)


def close_phase(run: Run, reporter: gevent.Greenlet) -> Closed:
    """Close handshake on every session, then wait for the server to expire them; stop the server."""
    args, client, server = run.args, run.client, run.server
    run.phase = "closing"
    T.shutdown_phase = True
    t0 = now()
    client.close_all(window=max(100, args.concurrency * 10), timeout=60.0)
    close_time = now() - t0
    print(
        f"closed {client.closed} sessions in {close_time:.1f} s; waiting {args.disconnect_delay + 5:.0f} s "
        "for the server to expire them",
        flush=True,
    )
    client.stop()
    gevent.sleep(args.disconnect_delay + 5)
    run.phase = "closed"
    row = run.report_line()
    reporter.kill()
    stats = server.stats()
    hwm = proc_status(server.pid).get("VmHWM", 0) / 1024.0
    return Closed(row, stats, hwm, server.stop())


def gap_percentile(gaps: list[int], p: float) -> float:
    """The ``p``-th percentile of a heartbeat-interval histogram (the upper edge of its bucket), s."""
    total = sum(gaps)
    seen = 0
    for b, c in enumerate(gaps):
        seen += c
        if total and seen >= total * p / 100.0:
            return (b + 1) * GAP_STEP
    return float("nan")


def print_summary(run: Run, opened: Opened, held: Held, checked: Checked, closed: Closed) -> None:
    """The idle summary: sessions, server RSS and CPU, heartbeats, echoes, descriptors, the client, errors."""
    args, client, server, base = run.args, run.client, run.server, run.base
    n, hb = args.idle, args.heartbeat_delay
    start, end, at_open = held.start, held.end, opened.snap
    sessions = max(1, client.opened)
    hold_wall = max(1e-6, end.t - start.t)
    hold_beats = end.heartbeats - start.heartbeats
    srv_cpu = end.srv_cpu - start.srv_cpu
    cli_cpu = end.cli_cpu - start.cli_cpu
    open_srv_cpu = opened.cpu.srv_cpu - base.srv_cpu
    open_cli_cpu = opened.cpu.cli_cpu - base.cli_cpu
    expected = client.opened / hb
    s_open_end, s_reg_end = server_counts(closed.stats)
    beats = checked.beats_per_session

    def kib(mb_now: float, mb_base: float) -> float:
        return (mb_now - mb_base) * 1024 / sessions

    print()
    print("== idle summary ==")
    print(
        f"sessions: {client.opened}/{n} websocket sessions on /echo opened in {opened.time:.1f} s "
        f"({client.opened / max(opened.time, 1e-9):.0f}/s, {args.concurrency} handshakes at a time, "
        f"{max(1, args.source_ips)} source addresses); {client.failed} failed to open, {client.lost} died while held"
    )
    if opened.stopped_at is not None:
        print(
            f"STOPPED opening at session {opened.stopped_at} of {n}: {opened.stop_reason}; "
            f"first failure: {client.first_failure or '-'}"
        )
    print(f"machine: at the start {run.load_start}; at the end of the hold {held.load_end}")
    print(
        f"server RSS: base {base.srv_rss:.1f} MB, after opening {at_open.srv_rss:.1f} MB, "
        f"end of the hold {end.srv_rss:.1f} MB, after the echo check {checked.row['server_rss_mb']:.1f} MB, "
        f"after close {closed.row['server_rss_mb']:.1f} MB, peak VmHWM {closed.hwm:.1f} MB"
    )
    print(
        f"server RSS per session: {kib(at_open.srv_rss, base.srv_rss):.1f} KiB after opening, "
        f"{kib(end.srv_rss, base.srv_rss):.1f} KiB at the end of the {args.duration:.0f} s hold"
    )
    print(
        f"server CPU while idle: {srv_cpu:.1f} s in {hold_wall:.0f} s = {100 * srv_cpu / hold_wall:.1f} % of a core, "
        f"{1e6 * srv_cpu / max(1, hold_beats):.1f} us per heartbeat; opening took {open_srv_cpu:.1f} s "
        f"({1e6 * open_srv_cpu / sessions:.0f} us per session)"
    )
    print(
        f"heartbeats while idle: {hold_beats} = {hold_beats / hold_wall:.0f}/s of {expected:.0f}/s "
        f"(sessions / heartbeat delay {hb:g} s) = {100 * hold_beats / hold_wall / max(expected, 1e-9):.1f} %; "
        f"interval p50 {gap_percentile(held.gaps, 50):.1f} s, p99 {gap_percentile(held.gaps, 99):.1f} s, "
        f"max {held.max_gap:.2f} s; {held.late} over {client.late_after:g} s"
    )
    print(
        f"heartbeats during the echo check: {checked.beats}, {checked.late} over {client.late_after:g} s, "
        f"longest interval {checked.max_gap:.2f} s"
    )
    silent = len(held.seen_silent | set(checked.silent_end))
    print(
        f"heartbeats per session over the whole run: min {beats[0]}, median {beats[len(beats) // 2]}, max {beats[-1]}; "
        f"{checked.never} open sessions never heard one; {silent} silent over {run.silent_after:g} s "
        f"({len(checked.silent_end)} at the end)"
    )
    rt = client.rtts
    print(
        f"echo check: {checked.echoes} of {len(checked.alive)} open sessions, {client.echoed} echoed once in "
        f"{checked.time:.1f} s ({checked.window} in flight at most); "
        f"RTT p50 {1000 * percentile(rt, 50):.1f} ms, p99 {1000 * percentile(rt, 99):.1f} ms, "
        f"max {1000 * max(rt, default=float('nan')):.1f} ms"
    )
    print(
        f"server fds: base {base.srv_fds}, after opening {at_open.srv_fds}, end of the hold {end.srv_fds}, "
        f"after close {closed.row['server_fds']}; RLIMIT_NOFILE server {run.srv_limit}, client {run.cli_limit}"
    )
    print(
        f"client (this process): RSS base {base.cli_rss:.1f} MB, after opening {at_open.cli_rss:.1f} MB "
        f"({kib(at_open.cli_rss, base.cli_rss):.1f} KiB per session), end of the hold {end.cli_rss:.1f} MB; "
        f"CPU while idle {cli_cpu:.1f} s = {100 * cli_cpu / hold_wall:.1f} % of a core "
        f"({1e6 * cli_cpu / max(1, hold_beats):.1f} us per heartbeat, vs the server's "
        f"{1e6 * srv_cpu / max(1, hold_beats):.1f}); "
        f"opening {open_cli_cpu:.1f} s ({1e6 * open_cli_cpu / sessions:.0f} us per session)"
    )
    print(f"client errors: {sum(T.errors.values())} {fmt_errors(T.errors)}")
    for kind, example in sorted(T.examples.items()):
        print(f"    e.g. {kind}: {example}")
    print(f"shutdown-phase client errors: {fmt_errors(T.shutdown_errors)}")
    print(
        f"server /stats errors while held: {fmt_errors(server_errors(checked.stats))}; "
        f"closes while held: {fmt_errors(server_closes(checked.stats))}"
    )
    print(
        f"server after close: {s_open_end} open, {s_reg_end} registered; "
        f"errors {fmt_errors(server_errors(closed.stats))}; closes {fmt_errors(server_closes(closed.stats))}"
    )
    print(f"server log ({server.log_path}): {fmt_errors(server.trouble)}; exit status {closed.code}")
    for line in server.examples:
        print("    " + line)


def outcome(run: Run, opened: Opened, held: Held, checked: Checked, closed: Closed) -> int:
    """The exit status, the RESULT line and the --json record: problems are errors and sessions not opened."""
    args, client, server, n = run.args, run.client, run.server, run.args.idle
    problems = (
        sum(T.errors.values())
        + sum(server_errors(checked.stats).values())
        + server.trouble["ERROR"]
        + server.trouble["Traceback"]
    )
    at_fd_limit = opened.stopped_at is not None and opened.stop_reason.startswith("this process's RLIMIT_NOFILE")
    if at_fd_limit and args.ignore_limits:
        # Asked to open what fits: the sessions it never tried are the
        # machine's limit, said above, not a failure of the server.
        problems += client.failed
    else:
        problems += n - client.opened  # failed, or never tried after too many failures
    record = {
        "rows": run.rows,
        "errors": T.errors,
        "shutdown_errors": T.shutdown_errors,
        "server_log": server.trouble,
        "base_rss": run.base.srv_rss,
        "hwm": closed.hwm,
        "heartbeat_gaps": held.gaps,
        "rtts": client.rtts,
        "open_time": opened.time,
        "opened": client.opened,
    }
    ok = (
        f"OK for the {client.opened} sessions the descriptor limit allowed (of {n} asked)"
        if client.opened < n
        else "OK"
    )
    s_open_end, s_reg_end = server_counts(closed.stats)
    return verdict(
        problems,
        sessions_left=s_open_end != 0 or s_reg_end != 0,
        exit_code=closed.code,
        json_path=args.json,
        record=record,
        ok=ok,
    )
