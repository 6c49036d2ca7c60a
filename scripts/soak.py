#!/usr/bin/env python3
"""Soak the SockJS test server: many sessions for a long time, or many short ones.

    .venv/bin/python scripts/soak.py                          # 10,000 sessions for 600 s
    .venv/bin/python scripts/soak.py --sessions 1000 --duration 60
    .venv/bin/python scripts/soak.py --cycles 100000          # open/close churn: RSS must stay flat

Not a CI test: it starts ``python -m sockjs_gevent.testserver`` (one process,
short heartbeat delay so heartbeats really flow) and drives it from this one
gevent process with raw sockets and a minimal client (RFC 6455 framing,
HTTP/1.1 with chunked decoding), cheap enough for 10,000 sessions.

Soak mode: opens N sessions (websocket / xhr-streaming / xhr-polling by
``--mix``, default 80/15/5), most on /echo, ``--broadcast-members`` on
/broadcast. Each echo session sends a message every 10-30 s (random) and
checks it comes back exactly once, in order, within ``--timeout``; every
``--broadcast-interval`` s one member publishes a numbered message that every
member must receive exactly once, in order. Heartbeats are counted, and a
session that hears nothing for 2 heartbeat delays + 5 s is "silent". Every
10 s one line: elapsed, sessions open (client view and server /stats),
server RSS (VmRSS) and fds, messages sent/received, heartbeats, errors by
kind. At the end the sessions are closed, and once the server expired them
a summary: RSS base/after-open/peak/end, RSS per session, errors. Exit
status 1 if there was any error (client-side, server /stats errors before
the shutdown phase, or ERROR/Traceback lines in the server log).

Cycles mode (``--cycles K``): opens and closes K sessions (mixed transports,
``--concurrency`` at a time), each sending one echo, and prints server RSS
every ``--report-every`` cycles; at the end all sessions must have been
freed (server sessions open and registered back to 0) and RSS growth after
the first report must stay under ``--rss-growth-limit`` MB.

Client sockets connect from 127.0.0.2..127.0.0.(1+--source-ips) so churn
does not exhaust one address's ephemeral ports. RLIMIT_NOFILE is raised for
this process and the server.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import re
import resource
import signal
import socket as _socket
import string
import sys
import time
from collections import Counter
from typing import Any, Optional

import gevent
import gevent.subprocess as subprocess
from gevent import socket
from gevent.event import Event
from gevent.lock import Semaphore
from gevent.pool import Pool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"
READY = re.compile(r"listening on http://([\d.]+):(\d+)")
IP_BIND_ADDRESS_NO_PORT = getattr(_socket, "IP_BIND_ADDRESS_NO_PORT", 24)
NOFILE = 65536
IO_TIMEOUT = 10.0  # per socket operation of request/response exchanges
MAX_HEAD = 65536

now = time.monotonic


# -- process helpers ---------------------------------------------------------

def raise_nofile(limit: int = NOFILE) -> int:
    """Raise RLIMIT_NOFILE as far as allowed (root may raise the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in ((limit, max(limit, hard)), (min(limit, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, want)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM in KiB (empty once the process is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name, value = line.split(":", 1)
                    out[name] = int(value.split()[0])
    except OSError:
        pass
    return out


def rss_mb(pid: int) -> float:
    return proc_status(pid).get("VmRSS", 0) / 1024.0


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


class Server:
    """The test server subprocess; its output goes to a log file and is scanned for trouble."""

    def __init__(self, args: argparse.Namespace) -> None:
        cmd = [
            sys.executable, "-m", "sockjs_gevent.testserver", "--host", HOST, "--port", str(args.port),
            "--heartbeat-delay", str(args.heartbeat_delay), "--disconnect-delay", str(args.disconnect_delay),
            *args.server_arg,
        ]
        root = os.path.abspath(args.server_root)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self.log_path = args.server_log
        self.log = open(self.log_path, "w")
        self.trouble: Counter[str] = Counter()  # ERROR / WARNING / Traceback lines
        self.examples: list[str] = []
        self.ready = Event()
        self.port = 0
        self.proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            preexec_fn=lambda: raise_nofile(args.nofile),
        )
        self.pid = self.proc.pid
        gevent.spawn(self._pump)
        if not self.ready.wait(30) or not self.port:
            self.proc.kill()
            raise SystemExit(f"server did not start; see {self.log_path}")

    def _pump(self) -> None:
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace")
            self.log.write(line)
            self.log.flush()
            if not self.port:
                m = READY.search(line)
                if m:
                    self.port = int(m.group(2))
                    self.ready.set()
            for word in ("Traceback", " ERROR ", " CRITICAL ", " WARNING "):
                if word in line:
                    self.trouble[word.strip()] += 1
                    if len(self.examples) < 10:
                        self.examples.append(line.rstrip())
        self.ready.set()

    def stats(self) -> Optional[dict[str, Any]]:
        """GET /stats (raw HTTP, no client library)."""
        try:
            conn = Http(IO_TIMEOUT)
            try:
                conn.sock.sendall(b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                status, headers = conn.head()
                body = conn.body(status, headers)
            finally:
                conn.close()
            return json.loads(body) if status == 200 else None
        except (OSError, EOFError, ValueError, ProtocolError):
            return None

    def stop(self, timeout: float = 20.0) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        gevent.sleep(0.2)  # let the pump read the last lines
        self.log.close()
        return self.proc.returncode


def server_counts(stats: Optional[dict[str, Any]]) -> tuple[int, int]:
    """(sessions open, sessions registered) over all services; (-1, -1) if unknown."""
    if not stats:
        return -1, -1
    opened = sum(sum(s["sessions_open"].values()) for s in stats.values())
    registered = sum(s["sessions_registered"] for s in stats.values())
    return opened, registered


def server_errors(stats: Optional[dict[str, Any]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for s in (stats or {}).values():
        out.update(s["errors"])
    return out


def server_closes(stats: Optional[dict[str, Any]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for s in (stats or {}).values():
        out.update(s["sessions_closed"])
    return out


# -- raw networking ----------------------------------------------------------

class ProtocolError(Exception):
    pass


class Net:
    port = 0
    sources: list[str] = ["127.0.0.1"]
    turn = 0


def connect(timeout: Optional[float]) -> socket.socket:
    sock = socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        Net.turn += 1
        source = Net.sources[Net.turn % len(Net.sources)]
        if source != HOST:
            sock.setsockopt(_socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.connect((HOST, Net.port))
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


class Http:
    """One keep-alive HTTP/1.1 connection: heads, bodies and chunks, parsed just enough."""

    __slots__ = ("sock", "buf", "used")

    def __init__(self, timeout: Optional[float]) -> None:
        self.sock = connect(timeout)
        self.buf = bytearray()
        self.used = now()

    def _more(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed by the server")
        self.buf += data

    def head(self) -> tuple[int, dict[bytes, bytes]]:
        buf = self.buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(buf) > MAX_HEAD:
                raise ProtocolError("HTTP head too long")
            self._more()
        lines = bytes(buf[:end]).split(b"\r\n")
        del buf[:end + 4]
        try:
            status = int(lines[0].split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise ProtocolError(f"bad status line {lines[0][:60]!r}") from None
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def _line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[:end + 2]
                return line
            self._more()

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._more()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def chunk(self) -> Optional[bytes]:
        """The next chunk of a chunked body; None after the last."""
        size = int(self._line().split(b";", 1)[0], 16)
        if size == 0:
            self._line()
            return None
        data = self._take(size + 2)
        return data[:-2]

    def body(self, status: int, headers: dict[bytes, bytes]) -> bytes:
        if status in (101, 204, 304):
            return b""
        if b"content-length" in headers:
            return self._take(int(headers[b"content-length"]))
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while (part := self.chunk()) is not None:
                parts.append(part)
            return b"".join(parts)
        data = bytes(self.buf)  # read to EOF
        self.buf.clear()
        while True:
            more = self.sock.recv(65536)
            if not more:
                return data
            data += more

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def post(path: str, body: bytes = b"") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n"
        "Content-Type: text/plain;charset=UTF-8\r\n\r\n"
    ).encode("latin-1") + body


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One masked client frame (FIN)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = os.urandom(4)
    if n:
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes((key * (n // 4 + 1))[:n], "big")).to_bytes(n, "big")
    else:
        masked = b""
    return head + key + masked


def random_id(n: int = 16) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=n))


# -- bookkeeping -------------------------------------------------------------

class Tally:
    """Everything the client counts; one instance per run."""

    def __init__(self) -> None:
        self.errors: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        self.sent = 0  # echo messages sent
        self.received = 0  # echo messages received (first time, any order)
        self.bsent = 0  # broadcasts published
        self.breceived = 0  # broadcast deliveries (one per member per broadcast)
        self.heartbeats: Counter[str] = Counter()  # by transport
        self.reopens = 0  # xhr-streaming responses that reached response_limit
        self.polls = 0
        self.open = Counter()  # sessions open now, by transport (client view)
        self.latencies: list[float] = []  # echo round trips in the current report interval
        self.all_latencies: list[float] = []
        self.shutdown_phase = False
        self.shutdown_errors: Counter[str] = Counter()

    def error(self, kind: str, detail: str = "") -> None:
        if self.shutdown_phase:
            self.shutdown_errors[kind] += 1
        else:
            self.errors[kind] += 1
        if kind not in self.examples and detail:
            self.examples[kind] = detail[:300]


T = Tally()


class Broadcasts:
    """Published broadcast numbers: when each went out, which failed to go."""

    def __init__(self) -> None:
        self.seq = 0
        self.times: list[float] = [0.0]  # index = seq
        self.failed: set[int] = set()

    def settled(self, timeout: float) -> int:
        """The highest seq every member should have by now."""
        limit = now() - timeout
        s = self.seq
        while s > 0 and self.times[s] > limit:
            s -= 1
        return s


B = Broadcasts()

NEW, OPEN, CLOSING, DEAD = range(4)
KIND_NAMES = {"ws": "websocket", "xs": "xhr_streaming", "xp": "xhr_polling"}


class Session:
    """Client state of one SockJS session; subclasses move the bytes."""

    __slots__ = (
        "idx", "kind", "member", "base", "state", "seq", "pending", "last_rx", "late",
        "b_next", "b_missed", "b_late", "last_frame", "silent", "sending", "sender", "greenlet", "opened",
    )

    def __init__(self, idx: int, kind: str, member: bool, prefix: str) -> None:
        self.idx = idx
        self.kind = kind
        self.member = member  # of /broadcast
        self.base = f"{prefix}/{random.randrange(1000):03d}/{random_id()}"
        self.state = NEW
        self.seq = 0
        self.pending: dict[int, float] = {}
        self.last_rx = 0
        self.late: Optional[set[int]] = None
        self.b_next = 1
        self.b_missed: Optional[set[int]] = None
        self.b_late: Optional[set[int]] = None
        self.last_frame = now()
        self.silent = False
        self.sending = False
        self.sender: Optional[Http] = None
        self.greenlet: Optional[gevent.Greenlet] = None
        self.opened = Event()

    # -- frames in -----------------------------------------------------------

    def on_frame(self, frame: str) -> None:
        self.last_frame = now()
        self.silent = False
        c = frame[:1]
        if c == "h":
            T.heartbeats[self.kind] += 1
        elif c == "a":
            try:
                messages = json.loads(frame[1:])
            except ValueError:
                T.error("bad_frame", frame[:100])
                return
            for m in messages:
                self.on_message(m)
        elif c == "o":
            if self.state == NEW:
                self.state = OPEN
                T.open[self.kind] += 1
                self.opened.set()
            else:
                T.error("second_open_frame")
        elif c == "c":
            try:
                code = json.loads(frame[1:])[0]
            except (ValueError, IndexError):
                code = "bad"
            if self.state != CLOSING:
                T.error(f"close_{code}", f"{self.kind} {frame}")
            self.die()
        else:
            T.error("bad_frame", frame[:100])

    def on_message(self, m: str) -> None:
        t = now()
        if m.startswith("E:"):
            try:
                _, idx, seq_s, _pad = m.split(":", 3)
                seq = int(seq_s)
            except ValueError:
                T.error("bad_message", m[:80])
                return
            if int(idx) != self.idx:
                T.error("misrouted", f"session {self.idx} got {m[:40]}")
                return
            sent = self.pending.pop(seq, None)
            if sent is not None:
                if seq < self.last_rx:
                    T.error("out_of_order", f"session {self.idx} got {seq} after {self.last_rx}")
                else:
                    self.last_rx = seq
                T.received += 1
                T.latencies.append(t - sent)
            elif self.late and seq in self.late:
                self.late.discard(seq)
                T.error("late")
            elif 0 < seq <= self.seq:
                T.error("duplicate", f"session {self.idx} got {seq} twice")
            else:
                T.error("unexpected_seq", m[:40])
        elif m.startswith("B:"):
            try:
                seq = int(m.split(":", 2)[1])
            except ValueError:
                T.error("bad_message", m[:80])
                return
            if not self.member:
                T.error("misrouted", f"echo session {self.idx} got broadcast {seq}")
                return
            T.breceived += 1
            if seq == self.b_next:
                self.b_next += 1
            elif seq > self.b_next:
                if self.b_missed is None:
                    self.b_missed = set()
                self.b_missed.update(s for s in range(self.b_next, seq) if s not in B.failed)
                self.b_next = seq + 1
            elif self.b_missed and seq in self.b_missed:
                self.b_missed.discard(seq)
                T.error("b_out_of_order", f"member {self.idx} got {seq} late")
            elif self.b_late and seq in self.b_late:
                self.b_late.discard(seq)
                T.error("b_late")
            else:
                T.error("b_duplicate", f"member {self.idx} got {seq} again")
        else:
            T.error("bad_message", m[:80])

    def check(self, timeout: float, settled: int) -> None:
        """Called every second: echo messages and broadcasts overdue are lost."""
        limit = now() - timeout
        if self.pending:
            for seq, sent in list(self.pending.items()):
                if sent < limit:
                    del self.pending[seq]
                    if self.late is None:
                        self.late = set()
                    self.late.add(seq)
                    T.error("timeout", f"{self.kind} session {self.idx} seq {seq}")
        if self.member and self.state == OPEN:
            lost = set(self.b_missed or ())
            if self.b_next <= settled:
                lost.update(s for s in range(self.b_next, settled + 1) if s not in B.failed)
                self.b_next = settled + 1
            lost = {s for s in lost if s <= settled}
            if lost:
                if self.b_late is None:
                    self.b_late = set()
                self.b_late.update(lost)
                if self.b_missed:
                    self.b_missed -= lost
                for s in lost:
                    T.error("b_lost", f"{self.kind} member {self.idx} missed broadcast {s}")

    def die(self) -> None:
        if self.state == OPEN:
            T.open[self.kind] -= 1
        self.state = DEAD
        self.opened.set()

    def fail(self, exc: BaseException, where: str) -> None:
        """An I/O failure: an error unless we are closing this session ourselves."""
        if self.state in (NEW, OPEN):
            kind = "timeout_io" if isinstance(exc, (socket.timeout, TimeoutError)) else \
                "eof" if isinstance(exc, EOFError) else \
                "protocol" if isinstance(exc, ProtocolError) else type(exc).__name__
            T.error(f"{where}_{kind}", f"{self.kind} session {self.idx}: {exc!r}")
        self.die()

    # -- frames out ----------------------------------------------------------

    def send_echo(self, pad: str) -> None:
        self.seq += 1
        seq = self.seq
        self.pending[seq] = now()
        T.sent += 1
        self._send([f"E:{self.idx}:{seq}:{pad}"], seq)

    def send_broadcast(self, seq: int, pad: str) -> None:
        self._send([f"B:{seq}:{pad}"], None, bseq=seq)

    def _send(self, messages: list[str], seq: Optional[int], bseq: Optional[int] = None) -> None:
        self.sending = True
        try:
            self.transmit(json.dumps(messages).encode("utf-8"))
        except Exception as exc:
            if seq is not None:
                self.pending.pop(seq, None)
                T.sent -= 1
            if bseq is not None:
                B.failed.add(bseq)
            if self.state == OPEN:
                T.error("send_" + type(exc).__name__, f"{self.kind} session {self.idx}: {exc!r}")
        finally:
            self.sending = False

    def transmit(self, payload: bytes) -> None:
        raise NotImplementedError

    def http_send(self, payload: bytes) -> None:
        """POST xhr_send on a keep-alive connection (replaced before the server's idle timeout)."""
        request = post(self.base + "/xhr_send", payload)
        conn = self.sender
        if conn is not None and now() - conn.used > 15:
            conn.close()
            conn = self.sender = None
        for attempt in range(2):
            fresh = conn is None
            if fresh:
                conn = self.sender = Http(IO_TIMEOUT)
            try:
                conn.sock.sendall(request)
                status, headers = conn.head()
                conn.body(status, headers)
            except (OSError, EOFError) as exc:
                conn.close()
                conn = self.sender = None
                if fresh or not isinstance(exc, EOFError):
                    raise
                T.error("xhr_send_reconnect")  # an idle keep-alive closed under us: retry once
                continue
            conn.used = now()
            if status != 204:
                raise ProtocolError(f"xhr_send answered {status}")
            return

    def close_http(self) -> None:
        if self.sender is not None:
            self.sender.close()
            self.sender = None


class WsSession(Session):
    __slots__ = ("sock", "buf")

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.sock: Optional[socket.socket] = None
        self.buf = bytearray()

    def run(self, gate: Semaphore) -> None:
        try:
            with gate:
                self.sock = connect(IO_TIMEOUT)
                key = "dGhlIHNhbXBsZSBub25jZQ=="
                self.sock.sendall((
                    f"GET {self.base}/websocket HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).encode("latin-1"))
                buf = self.buf
                while (end := buf.find(b"\r\n\r\n")) < 0:
                    data = self.sock.recv(65536)
                    if not data:
                        raise EOFError("closed during the handshake")
                    buf += data
                status = bytes(buf[:end]).split(b" ", 2)[1]
                del buf[:end + 4]
                if status != b"101":
                    raise ProtocolError(f"handshake answered {status.decode()}")
                self.read_frame()  # the "o" frame
                if self.state != OPEN:
                    raise ProtocolError("first frame was not o")
            self.sock.settimeout(None)
            while self.state in (OPEN, CLOSING):
                if not self.read_frame():
                    break
        except Exception as exc:
            self.fail(exc, "ws")
        finally:
            self.die()
            if self.sock is not None:
                self.sock.close()

    def read_frame(self) -> bool:
        """Read one WebSocket frame and act on it; False after the close frame."""
        buf = self.buf
        recv = self.sock.recv
        while True:
            have = len(buf)
            if have >= 2:
                short = buf[1] & 0x7F
                head = 2 if short < 126 else 4 if short == 126 else 10
                if have >= head:
                    n = short if short < 126 else int.from_bytes(buf[2:head], "big")
                    if have >= head + n:
                        opcode = buf[0] & 0x0F
                        payload = bytes(buf[head:head + n])
                        del buf[:head + n]
                        break
            data = recv(65536)
            if not data:
                raise EOFError("connection closed")
            buf += data
        if opcode == 0x1:
            self.on_frame(payload.decode("utf-8"))
        elif opcode == 0x8:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if self.state != CLOSING:
                T.error(f"ws_close_{code}", f"session {self.idx}: {payload!r}")
            else:
                try:
                    self.sock.sendall(ws_frame(payload[:2], 0x8))
                except OSError:
                    pass
            return False
        elif opcode == 0x9:
            self.sock.sendall(ws_frame(payload, 0xA))
        elif opcode != 0xA:
            T.error(f"ws_opcode_{opcode}")
        return True

    def transmit(self, payload: bytes) -> None:
        self.sock.sendall(ws_frame(payload))

    def close(self, wait: float = 5.0) -> None:
        """Client-initiated close handshake; the reader sees the server's answer."""
        if self.state != OPEN:
            return
        self.state = CLOSING
        T.open[self.kind] -= 1
        try:
            self.sock.sendall(ws_frame((1000).to_bytes(2, "big"), 0x8))
        except OSError:
            pass
        if self.greenlet is not None:
            self.greenlet.join(wait)
            if not self.greenlet.dead:
                T.error("ws_close_handshake_timeout", f"session {self.idx}")
                self.greenlet.kill(block=False)


class HttpSession(Session):
    """A session on an HTTP transport: a receiving connection, sends by xhr_send."""

    __slots__ = ("conn",)

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.conn: Optional[Http] = None

    def transmit(self, payload: bytes) -> None:
        self.http_send(payload)

    def close(self, wait: float = 0) -> None:
        if self.state != OPEN:
            return
        self.state = CLOSING
        T.open[self.kind] -= 1
        if self.conn is not None:
            self.conn.close()
        self.close_http()


class XhrStreamingSession(HttpSession):
    __slots__ = ("lines",)

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.lines = b""

    def run(self, gate: Semaphore) -> None:
        request = post(self.base + "/xhr_streaming")
        try:
            with gate:
                self.conn = Http(IO_TIMEOUT)
                self._start(request)
                while self.state == NEW:
                    self._read_chunk(request)
            self.conn.sock.settimeout(None)
            while self.state == OPEN:
                self._read_chunk(request)
        except Exception as exc:
            self.fail(exc, "xs")
        finally:
            self.die()
            if self.conn is not None:
                self.conn.close()
            self.close_http()

    def _start(self, request: bytes) -> None:
        self.conn.sock.sendall(request)
        status, headers = self.conn.head()
        if status != 200:
            raise ProtocolError(f"xhr_streaming answered {status}")
        self.lines = b""

    def _read_chunk(self, request: bytes) -> None:
        data = self.conn.chunk()
        if data is None:  # response_limit reached: open the next response
            T.reopens += 1
            if self.lines:
                T.error("xs_partial_line")
            self._start(request)
            return
        lines = (self.lines + data).split(b"\n")
        self.lines = lines.pop()
        for line in lines:
            if line[:2] == b"hh" or not line:  # the 2 KiB prelude
                continue
            self.on_frame(line.decode("utf-8"))



class XhrPollingSession(HttpSession):
    __slots__ = ()

    def run(self, gate: Semaphore, heartbeat_delay: float = 25.0) -> None:
        request = post(self.base + "/xhr")
        poll_timeout = heartbeat_delay * 2 + 10
        try:
            with gate:
                self.conn = Http(poll_timeout)
                self._poll(request)
                if self.state != OPEN:
                    raise ProtocolError("first poll did not open the session")
            while self.state == OPEN:
                try:
                    self._poll(request)
                except EOFError as exc:
                    if self.state != OPEN:
                        break
                    T.error("xp_poll_eof", repr(exc))  # the server dropped a keep-alive poll connection
                    self.conn.close()
                    self.conn = Http(poll_timeout)
        except Exception as exc:
            self.fail(exc, "xp")
        finally:
            self.die()
            if self.conn is not None:
                self.conn.close()
            self.close_http()

    def _poll(self, request: bytes) -> None:
        conn = self.conn
        conn.sock.sendall(request)
        status, headers = conn.head()
        body = conn.body(status, headers)
        T.polls += 1
        if status != 200:
            raise ProtocolError(f"xhr answered {status}")
        for line in body.split(b"\n"):
            if line:
                self.on_frame(line.decode("utf-8"))


CLASSES = {"ws": WsSession, "xs": XhrStreamingSession, "xp": XhrPollingSession}


def parse_mix(text: str) -> list[tuple[str, float]]:
    """'80/15/5' -> websocket, xhr-streaming, xhr-polling weights."""
    parts = [float(p) for p in text.split("/")]
    if len(parts) != 3 or sum(parts) <= 0 or min(parts) < 0:
        raise argparse.ArgumentTypeError("--mix wants three weights like 80/15/5 (websocket/xhr-streaming/xhr-polling)")
    total = sum(parts)
    return [(k, p / total) for k, p in zip(("ws", "xs", "xp"), parts)]


def kinds_for(n: int, mix: list[tuple[str, float]]) -> list[str]:
    """Exactly proportioned, shuffled transport kinds for n sessions."""
    out: list[str] = []
    for i, (kind, share) in enumerate(mix):
        count = n - len(out) if i == len(mix) - 1 else round(n * share)
        out += [kind] * count
    random.shuffle(out)
    return out


def make_session(idx: int, kind: str, member: bool) -> Session:
    return CLASSES[kind](idx, kind, member, "/broadcast" if member else "/echo")


def start_session(sess: Session, gate: Semaphore, heartbeat_delay: float) -> None:
    if isinstance(sess, XhrPollingSession):
        sess.greenlet = gevent.spawn(sess.run, gate, heartbeat_delay)
    else:
        sess.greenlet = gevent.spawn(sess.run, gate)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100.0))]


def fmt_errors(errors: Counter[str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(errors.items())) or "-"


# -- soak mode ---------------------------------------------------------------

def soak(args: argparse.Namespace, server: Server) -> int:
    pid = server.pid
    pad = "x" * max(0, args.message_size - 20)
    rows: list[dict[str, Any]] = []
    gevent.sleep(1.0)
    base_rss = rss_mb(pid)
    base_fds = fd_count(pid)
    print(f"server pid {pid} port {server.port}: RSS {base_rss:.1f} MB, {base_fds} fds before any session", flush=True)

    n = args.sessions
    members = min(args.broadcast_members, n)
    kinds = kinds_for(n, args.mix)
    member_flags = [True] * members + [False] * (n - members)
    random.shuffle(member_flags)
    sessions = [make_session(i, kinds[i], member_flags[i]) for i in range(n)]
    started = now()
    phase = {"name": "opening"}

    def report_line() -> dict[str, Any]:
        stats = server.stats()
        s_open, s_reg = server_counts(stats)
        lat = T.latencies
        T.all_latencies.extend(lat)
        T.latencies = []
        row = {
            "t": round(now() - started), "phase": phase["name"],
            "client_open": sum(T.open.values()), "server_open": s_open, "server_registered": s_reg,
            "server_rss_mb": round(rss_mb(pid), 1), "server_fds": fd_count(pid), "client_rss_mb": round(rss_mb(os.getpid()), 1),
            "sent": T.sent, "received": T.received, "bsent": B.seq, "breceived": T.breceived,
            "heartbeats": sum(T.heartbeats.values()), "p99_ms": round(1000 * percentile(lat, 99), 1),
            "errors": dict(T.errors), "server_errors": dict(server_errors(stats)),
        }
        rows.append(row)
        print(
            f"{row['t']:>5} {row['phase']:<8} {row['client_open']:>6} {s_open:>6} {s_reg:>5} "
            f"{row['server_rss_mb']:>8.1f} {row['server_fds']:>6} {row['client_rss_mb']:>7.1f} "
            f"{T.sent:>8} {T.received:>8} {B.seq:>5} {T.breceived:>8} {row['heartbeats']:>8} {row['p99_ms']:>7} "
            f"{fmt_errors(T.errors)} srv:{fmt_errors(server_errors(stats))}",
            flush=True,
        )
        return row

    def reporter() -> None:
        print(f"{'t(s)':>5} {'phase':<8} {'c_open':>6} {'s_open':>6} {'s_reg':>5} {'srvRSS':>8} {'s_fds':>6} "
              f"{'cliRSS':>7} {'sent':>8} {'recv':>8} {'bsent':>5} {'brecv':>8} {'hbeats':>8} {'p99ms':>7} errors", flush=True)
        while True:
            gevent.sleep(args.interval - (now() - started) % args.interval)
            report_line()

    def checker() -> None:
        silent_after = 2 * args.heartbeat_delay + 5
        while True:
            gevent.sleep(1.0)
            settled = B.settled(args.timeout)
            t = now()
            for sess in sessions:
                if sess.state != OPEN:
                    continue
                if sess.pending or sess.member:
                    sess.check(args.timeout, settled)
                if not sess.silent and t - sess.last_frame > silent_after:
                    sess.silent = True
                    T.error("silent", f"{sess.kind} session {sess.idx}: nothing for {t - sess.last_frame:.0f} s")

    rep = gevent.spawn(reporter)
    gate = Semaphore(args.concurrency)
    for sess in sessions:
        start_session(sess, gate, args.heartbeat_delay)
    for sess in sessions:
        sess.opened.wait()
    open_time = now() - started
    failed_open = sum(1 for s in sessions if s.state != OPEN)
    print(f"opened {n - failed_open}/{n} sessions in {open_time:.1f} s "
          f"({Counter(s.kind for s in sessions if s.state == OPEN)}; {members} on /broadcast)", flush=True)
    gevent.sleep(2.0)
    after_open = report_line()
    phase["name"] = "steady"
    chk = gevent.spawn(checker)

    def echo_scheduler() -> None:
        heap = [(now() + random.uniform(0, args.max_gap), i) for i, s in enumerate(sessions) if not s.member]
        heapq.heapify(heap)
        while heap:
            gevent.sleep(0.05)
            t = now()
            while heap and heap[0][0] <= t:
                _, i = heapq.heappop(heap)
                sess = sessions[i]
                if sess.state != OPEN:
                    continue
                if not sess.sending:
                    gevent.spawn(sess.send_echo, pad)
                    heapq.heappush(heap, (t + random.uniform(args.min_gap, args.max_gap), i))
                else:
                    heapq.heappush(heap, (t + 1.0, i))

    def broadcaster() -> None:
        group = [s for s in sessions if s.member]
        while group:
            gevent.sleep(args.broadcast_interval)
            live = [s for s in group if s.state == OPEN and not s.sending]
            if not live:
                continue
            B.seq += 1
            B.times.append(now())
            gevent.spawn(random.choice(live).send_broadcast, B.seq, pad)

    workers = [gevent.spawn(echo_scheduler), gevent.spawn(broadcaster)]
    gevent.sleep(max(0.0, args.duration - (now() - started - open_time)))
    gevent.killall(workers)
    gevent.sleep(args.timeout + 1)  # let the last messages arrive or time out
    chk.kill()
    for sess in sessions:  # a final check, everything is settled now
        if sess.state == OPEN:
            sess.check(args.timeout, B.seq)
    before_close = report_line()
    stats_before_close = server.stats()
    peak_rss = max(r["server_rss_mb"] for r in rows)

    # -- shutdown: close everything, let the server expire what it holds ----
    phase["name"] = "closing"
    T.shutdown_phase = True
    t0 = now()
    pool = Pool(args.concurrency)
    for sess in sessions:
        pool.spawn(sess.close)
    pool.join()
    gevent.joinall([s.greenlet for s in sessions if s.greenlet is not None], timeout=30)
    print(f"closed all sessions in {now() - t0:.1f} s; waiting {args.disconnect_delay + 5:.0f} s for the server to expire them", flush=True)
    gevent.sleep(args.disconnect_delay + 5)
    phase["name"] = "closed"
    end = report_line()
    rep.kill()
    stats_end = server.stats()
    hwm = proc_status(pid).get("VmHWM", 0) / 1024.0
    code = server.stop()

    lat = T.all_latencies
    opened = n - failed_open
    per_session_kb = (after_open["server_rss_mb"] - base_rss) * 1024 / max(1, opened)
    s_open_end, s_reg_end = server_counts(stats_end)
    soak_server_errors = server_errors(stats_before_close)
    print()
    print("== summary ==")
    print(f"sessions: {opened}/{n} opened in {open_time:.1f} s, {members} on /broadcast, mix "
          + ", ".join(f"{KIND_NAMES[k]} {c}" for k, c in sorted(Counter(kinds).items())))
    print(f"server RSS: base {base_rss:.1f} MB, after open {after_open['server_rss_mb']:.1f} MB, "
          f"before close {before_close['server_rss_mb']:.1f} MB, peak {max(peak_rss, hwm):.1f} MB (VmHWM {hwm:.1f}), "
          f"end {end['server_rss_mb']:.1f} MB")
    warm = next((r for r in rows if r["phase"] == "steady" and r["t"] >= open_time + 60), before_close)
    warm_kb = (warm["server_rss_mb"] - base_rss) * 1024 / max(1, opened)
    span = max(1.0, before_close["t"] - warm["t"])
    creep = before_close["server_rss_mb"] - warm["server_rss_mb"]
    print(f"server RSS per session: {per_session_kb:.1f} KiB just after opening, {warm_kb:.1f} KiB once traffic "
          f"flows (t={warm['t']} s, {warm['server_rss_mb']:.1f} MB); from then to the end of the soak "
          f"{creep:+.1f} MB in {span:.0f} s ({creep * 1024 / span * 60:+.0f} KiB/min)")
    print(f"server fds: base {base_fds}, open {after_open['server_fds']}, end {end['server_fds']}")
    print(f"echo: {T.sent} sent, {T.received} received, RTT p50 {1000 * percentile(lat, 50):.1f} ms, "
          f"p99 {1000 * percentile(lat, 99):.1f} ms, max {1000 * max(lat, default=float('nan')):.1f} ms")
    expected_b = sum(1 for s in sessions if s.member and s.state != NEW) * B.seq
    print(f"broadcast: {B.seq} published ({len(B.failed)} failed to send), {T.breceived} deliveries "
          f"(members x published = {expected_b})")
    steady = max(1.0, args.duration)
    print(f"heartbeats: {sum(T.heartbeats.values())} ({dict(T.heartbeats)}), "
          f"{sum(T.heartbeats.values()) / steady:.0f}/s vs at most {opened / args.heartbeat_delay:.0f}/s for silent sessions; "
          f"xhr-streaming re-opens {T.reopens}, polls {T.polls}")
    print(f"client errors: {sum(T.errors.values())} {fmt_errors(T.errors)}")
    for kind, example in sorted(T.examples.items()):
        print(f"    e.g. {kind}: {example}")
    print(f"shutdown-phase client errors: {fmt_errors(T.shutdown_errors)}")
    print(f"server /stats errors during the soak: {fmt_errors(soak_server_errors)}; "
          f"closes during the soak: {fmt_errors(server_closes(stats_before_close))}")
    print(f"server after shutdown: {s_open_end} open, {s_reg_end} registered; errors {fmt_errors(server_errors(stats_end))}; "
          f"closes {fmt_errors(server_closes(stats_end))}")
    print(f"server log ({server.log_path}): {fmt_errors(server.trouble)}; exit status {code}")
    for line in server.examples:
        print("    " + line)
    problems = sum(T.errors.values()) + sum(soak_server_errors.values()) + server.trouble["ERROR"] + server.trouble["Traceback"]
    problems += failed_open
    if s_open_end != 0 or s_reg_end != 0:
        print("PROBLEM: the server still holds sessions after they were all closed and expired")
        problems += 1
    if code != 0:
        print(f"PROBLEM: server exit status {code}")
        problems += 1
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "errors": T.errors, "shutdown_errors": T.shutdown_errors,
                       "server_log": server.trouble, "base_rss": base_rss, "hwm": hwm}, f, indent=1)
    print("RESULT:", "FAIL" if problems else "OK")
    return 1 if problems else 0


# -- cycles mode -------------------------------------------------------------

def one_cycle(i: int, kind: str, args: argparse.Namespace, pad: str) -> None:
    """Open a session on /echo, echo one message, close it the way its transport does."""
    sess = CLASSES[kind](i, kind, False, "/echo")
    try:
        with gevent.Timeout(args.timeout, TimeoutError(f"cycle took over {args.timeout} s")):
            if kind == "ws":
                cycle_ws(sess, pad)
            elif kind == "xs":
                cycle_xs(sess, pad)
            else:
                cycle_xp(sess, pad)
    except Exception as exc:
        T.error(f"{kind}_{type(exc).__name__}", f"cycle {i}: {exc!r}")
    finally:
        for conn in (getattr(sess, "conn", None), sess.sender):
            if conn is not None:
                conn.close()
        sock = getattr(sess, "sock", None)
        if sock is not None:
            sock.close()
        if sess.pending:
            T.error("lost", f"{kind} cycle {i}")


def leave(sess: Session) -> None:
    if sess.state == OPEN:
        T.open[sess.kind] -= 1
    sess.state = CLOSING


def cycle_ws(sess: WsSession, pad: str) -> None:
    sess.sock = connect(IO_TIMEOUT)
    sess.sock.sendall((
        f"GET {sess.base}/websocket HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode("latin-1"))
    buf = sess.buf
    while (end := buf.find(b"\r\n\r\n")) < 0:
        data = sess.sock.recv(65536)
        if not data:
            raise EOFError("closed during the handshake")
        buf += data
    status = bytes(buf[:end]).split(b" ", 2)[1]
    del buf[:end + 4]
    if status != b"101":
        raise ProtocolError(f"handshake answered {status.decode()}")
    sess.read_frame()
    if sess.state != OPEN:
        raise ProtocolError("no o frame")
    sess.send_echo(pad)
    while sess.pending and sess.state == OPEN:
        sess.read_frame()
    leave(sess)
    sess.sock.sendall(ws_frame((1000).to_bytes(2, "big"), 0x8))
    while sess.read_frame():  # until the server's close frame
        pass


def cycle_xs(sess: XhrStreamingSession, pad: str) -> None:
    request = post(sess.base + "/xhr_streaming")
    sess.conn = Http(IO_TIMEOUT)
    sess._start(request)
    while sess.state == NEW:
        sess._read_chunk(request)
    if sess.state != OPEN:
        raise ProtocolError("no o frame")
    sess.send_echo(pad)
    while sess.pending and sess.state == OPEN:
        sess._read_chunk(request)
    leave(sess)  # hanging up is how an xhr-streaming client leaves


def cycle_xp(sess: XhrPollingSession, pad: str) -> None:
    request = post(sess.base + "/xhr")
    sess.conn = Http(IO_TIMEOUT)
    sess._poll(request)
    if sess.state != OPEN:
        raise ProtocolError("no o frame")
    sess.send_echo(pad)
    while sess.pending and sess.state == OPEN:
        sess._poll(request)
    leave(sess)  # stop polling: the session expires after disconnect_delay


def cycles(args: argparse.Namespace, server: Server) -> int:
    pid = server.pid
    pad = "x" * max(0, args.message_size - 20)
    gevent.sleep(1.0)
    base_rss = rss_mb(pid)
    print(f"server pid {pid} port {server.port}: RSS {base_rss:.1f} MB, {fd_count(pid)} fds before any session", flush=True)
    kinds = kinds_for(args.cycles, args.mix)
    rows: list[dict[str, Any]] = []
    started = now()
    done = {"n": 0}

    def line(label: str) -> dict[str, Any]:
        stats = server.stats()
        s_open, s_reg = server_counts(stats)
        elapsed = now() - started
        row = {"cycles": done["n"], "t": round(elapsed, 1), "rate": round(done["n"] / max(elapsed, 1e-9)),
               "server_rss_mb": round(rss_mb(pid), 1), "server_fds": fd_count(pid),
               "server_open": s_open, "server_registered": s_reg, "errors": dict(T.errors),
               "server_errors": dict(server_errors(stats)), "label": label}
        rows.append(row)
        print(f"{label:<8} {row['cycles']:>7} {row['t']:>7} {row['rate']:>6} {row['server_rss_mb']:>8.1f} "
              f"{row['server_fds']:>6} {s_open:>6} {s_reg:>6}  {fmt_errors(T.errors)} srv:{fmt_errors(server_errors(stats))}",
              flush=True)
        return row

    print(f"{'':<8} {'cycles':>7} {'t(s)':>7} {'per_s':>6} {'srvRSS':>8} {'s_fds':>6} {'s_open':>6} {'s_reg':>6}  errors", flush=True)
    line("start")
    pool = Pool(args.concurrency)

    def run(i: int) -> None:
        one_cycle(i, kinds[i], args, pad)
        done["n"] += 1
        if done["n"] % args.report_every == 0:
            gevent.spawn(line, "cycles")

    for i in range(args.cycles):
        pool.spawn(run, i)
    pool.join()
    gevent.sleep(0.5)
    line("done")
    gevent.sleep(args.disconnect_delay + 5)
    end = line("expired")
    stats_end = server.stats()
    hwm = proc_status(pid).get("VmHWM", 0) / 1024.0
    code = server.stop()

    marks = [r for r in rows if r["label"] == "cycles"]
    first = marks[0] if marks else rows[0]
    growth = end["server_rss_mb"] - first["server_rss_mb"]
    s_open, s_reg = server_counts(stats_end)
    print()
    print("== summary ==")
    print(f"cycles: {args.cycles} ({', '.join(f'{KIND_NAMES[k]} {c}' for k, c in sorted(Counter(kinds).items()))}), "
          f"concurrency {args.concurrency}, {args.cycles / (end['t'] - args.disconnect_delay - 5):.0f}/s")
    print(f"server RSS: base {base_rss:.1f} MB, at {first['cycles']} cycles {first['server_rss_mb']:.1f} MB, "
          f"end {end['server_rss_mb']:.1f} MB (growth since then {growth:+.1f} MB), peak VmHWM {hwm:.1f} MB")
    print(f"server after expiry: {s_open} open, {s_reg} registered, {end['server_fds']} fds; "
          f"closes {fmt_errors(server_closes(stats_end))}; errors {fmt_errors(server_errors(stats_end))} "
          f"(aborted = xhr-streaming clients hanging up, expected)")
    print(f"client errors: {sum(T.errors.values())} {fmt_errors(T.errors)}")
    for kind, example in sorted(T.examples.items()):
        print(f"    e.g. {kind}: {example}")
    print(f"server log ({server.log_path}): {fmt_errors(server.trouble)}; exit status {code}")
    for l in server.examples:
        print("    " + l)
    problems = sum(T.errors.values()) + server.trouble["ERROR"] + server.trouble["Traceback"]
    unexpected = server_errors(stats_end) - Counter({"aborted": 10**12})
    problems += sum(unexpected.values())
    if s_open or s_reg:
        print("PROBLEM: sessions not freed after expiry")
        problems += 1
    if growth > args.rss_growth_limit:
        print(f"PROBLEM: RSS grew {growth:.1f} MB (> {args.rss_growth_limit} MB) after the first {first['cycles']} cycles")
        problems += 1
    if code != 0:
        print(f"PROBLEM: server exit status {code}")
        problems += 1
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "errors": T.errors, "server_log": server.trouble, "hwm": hwm}, f, indent=1)
    print("RESULT:", "FAIL" if problems else "OK")
    return 1 if problems else 0


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=10_000, help="soak: sessions held open (default 10000)")
    p.add_argument("--duration", type=float, default=600.0, help="soak: seconds to hold them after opening (default 600)")
    p.add_argument("--cycles", type=int, default=0, metavar="K",
                   help="cycles mode: open and close K sessions (100000 if given without a number)", nargs="?", const=100_000)
    p.add_argument("--mix", type=parse_mix, default=parse_mix("80/15/5"), help="websocket/xhr-streaming/xhr-polling weights (80/15/5)")
    p.add_argument("--broadcast-members", type=int, default=200, help="soak: sessions on /broadcast (default 200)")
    p.add_argument("--broadcast-interval", type=float, default=3.0, help="soak: seconds between broadcasts (default 3)")
    p.add_argument("--min-gap", type=float, default=10.0, help="soak: shortest pause between a session's echoes (10 s)")
    p.add_argument("--max-gap", type=float, default=30.0, help="soak: longest pause between a session's echoes (30 s)")
    p.add_argument("--message-size", type=int, default=160,
                   help="bytes per message, padding included (160: xhr-streaming echo sessions then pass /echo's "
                        "4 KiB response_limit about once in 600 s, so re-opening is exercised)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds for an echo/broadcast to arrive, or a cycle to finish (10)")
    p.add_argument("--concurrency", type=int, default=None, help="handshakes at a time (soak 100) / cycles at a time (50)")
    p.add_argument("--heartbeat-delay", type=float, default=5.0, help="server heartbeat delay, s (5)")
    p.add_argument("--disconnect-delay", type=float, default=5.0, help="server disconnect delay, s (5)")
    p.add_argument("--interval", type=float, default=10.0, help="soak: seconds between report lines (10)")
    p.add_argument("--report-every", type=int, default=10_000, help="cycles: report every this many cycles (10000)")
    p.add_argument("--rss-growth-limit", type=float, default=30.0, help="cycles: MB of RSS growth after the first report that fails the run (30)")
    p.add_argument("--source-ips", type=int, default=16, help="connect from 127.0.0.2..127.0.0.(1+N); 0 for 127.0.0.1 only (16)")
    p.add_argument("--nofile", type=int, default=NOFILE, help=f"RLIMIT_NOFILE for both processes ({NOFILE})")
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument("--server-root", default=ROOT,
                   help="directory whose sockjs_gevent the server runs (default: this checkout; e.g. a "
                        "`git archive HEAD` snapshot to soak a fixed commit while the tree is being edited)")
    p.add_argument("--server-log", default="/tmp/soak-server.log", help="where the server's output goes")
    p.add_argument("--server-arg", action="append", default=[], help="extra testserver argument (repeatable)")
    p.add_argument("--json", help="also write the rows and counters as JSON here")
    p.add_argument("--seed", type=int, help="random seed")
    args = p.parse_args(argv)
    if args.concurrency is None:
        args.concurrency = 50 if args.cycles else 100
    if args.seed is not None:
        random.seed(args.seed)
    limit = raise_nofile(args.nofile)
    http_share = sum(share for kind, share in args.mix if kind != "ws")  # these also hold an xhr_send connection
    need = int(args.sessions * (1 + http_share)) + 200 if not args.cycles else args.concurrency * 3 + 200
    if limit < need:
        print(f"warning: RLIMIT_NOFILE is {limit}, this run may need {need}", file=sys.stderr)
    Net.sources = [f"127.0.0.{2 + i}" for i in range(args.source_ips)] or [HOST]
    server = Server(args)
    Net.port = server.port
    check = subprocess.run([sys.executable, "-c", "import sockjs_gevent; print(sockjs_gevent.__file__)"],
                           cwd=os.path.abspath(args.server_root), capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=os.path.abspath(args.server_root)))
    print(f"server code: {check.stdout.strip()}", flush=True)
    try:
        if args.cycles:
            return cycles(args, server)
        return soak(args, server)
    finally:
        if server.proc.poll() is None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
