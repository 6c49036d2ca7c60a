"""Client SockJS sessions, one class per transport, checking what they receive.

``Session`` parses frames and checks messages (echoes come back once and in
order, broadcasts reach every member once and in order, heartbeats are
counted); ``WsSession``, ``XhrStreamingSession`` and ``XhrPollingSession``
move the bytes over the raw client. Each session's ``run`` is one greenlet.
"""

from __future__ import annotations

import argparse
import json
import random
from typing import Any

import gevent
from gevent import socket
from gevent.event import Event
from gevent.lock import Semaphore

from testkit.rawhttp import HttpConnection, ProtocolError
from testkit.wsframe import (
    CLOSE,
    OPCODE,
    PING,
    PONG,
    TEXT,
    close_payload,
    encode,
    frame_at,
    parse_close,
    upgrade_request,
)

from .rawclient import HOST, IO_TIMEOUT, Http, connect, now, post, random_id
from .tally import B, T

NEW, OPEN, CLOSING, DEAD = range(4)
KIND_NAMES = {"ws": "websocket", "xs": "xhr_streaming", "xp": "xhr_polling"}


class Session:
    """Client state of one SockJS session; subclasses move the bytes."""

    __slots__ = (
        "idx",
        "kind",
        "member",
        "base",
        "state",
        "seq",
        "pending",
        "last_rx",
        "late",
        "b_next",
        "b_missed",
        "b_late",
        "last_frame",
        "silent",
        "sending",
        "sender",
        "greenlet",
        "opened",
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
        self.late: set[int] | None = None
        self.b_next = 1
        self.b_missed: set[int] | None = None
        self.b_late: set[int] | None = None
        self.last_frame = now()
        self.silent = False
        self.sending = False
        self.sender: Http | None = None
        self.greenlet: gevent.Greenlet | None = None
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
            kind = (
                "timeout_io"
                if isinstance(exc, (socket.timeout, TimeoutError))
                else "eof"
                if isinstance(exc, EOFError)
                else "protocol"
                if isinstance(exc, ProtocolError)
                else type(exc).__name__
            )
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

    def _send(self, messages: list[str], seq: int | None, bseq: int | None = None) -> None:
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

    def run(self, gate: Semaphore) -> None:
        """Open (at most as many at a time as ``gate`` lets), then read until the session ends (a greenlet)."""
        raise NotImplementedError

    def transmit(self, payload: bytes) -> None:
        raise NotImplementedError

    def close(self, wait: float = 0) -> None:
        """Leave the session the way its transport does."""
        raise NotImplementedError

    def http_send(self, payload: bytes) -> None:
        """POST xhr_send on a keep-alive connection (replaced before the server's idle timeout)."""
        request = post(self.base + "/xhr_send", payload)
        conn = self.sender
        if conn is not None and now() - conn.used > 15:
            conn.close()
            conn = self.sender = None
        for _attempt in range(2):
            fresh = conn is None
            if conn is None:
                conn = self.sender = Http(IO_TIMEOUT)
            try:
                status = conn.round_trip(request).status
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
        self.sock: socket.socket | None = None
        self.buf = bytearray()

    @property
    def live_sock(self) -> socket.socket:
        """The socket, once ``open`` connected it."""
        assert self.sock is not None, "the session was not opened"
        return self.sock

    def open(self) -> None:
        """Connect, upgrade, and read the ``o`` frame (raises if any of it fails)."""
        self.sock = connect(IO_TIMEOUT)
        handshake = HttpConnection(self.sock, HOST)
        handshake.send(upgrade_request(f"{self.base}/websocket", HOST))
        status = handshake.read_head().status
        self.buf = handshake.buf  # the frames that came with the 101
        if status != 101:
            raise ProtocolError(f"handshake answered {status}")
        self.read_frame()  # the "o" frame
        if self.state != OPEN:
            raise ProtocolError("first frame was not o")

    def run(self, gate: Semaphore) -> None:
        try:
            with gate:
                self.open()
            self.live_sock.settimeout(None)
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
        while (frame := frame_at(buf)) is None:
            data = self.live_sock.recv(65536)
            if not data:
                raise EOFError("connection closed")
            buf += data
        first, payload, end, _ = frame
        del buf[:end]
        opcode = first & OPCODE
        if opcode == TEXT:
            self.on_frame(payload.decode("utf-8"))
        elif opcode == CLOSE:
            if self.state != CLOSING:
                T.error(f"ws_close_{parse_close(payload)[0]}", f"session {self.idx}: {payload!r}")
            else:
                try:
                    self.live_sock.sendall(encode(payload[:2], CLOSE))
                except OSError:
                    pass
            return False
        elif opcode == PING:
            self.live_sock.sendall(encode(payload, PONG))
        elif opcode != PONG:
            T.error(f"ws_opcode_{opcode}")
        return True

    def transmit(self, payload: bytes) -> None:
        self.live_sock.sendall(encode(payload))

    def close(self, wait: float = 5.0) -> None:
        """Client-initiated close handshake; the reader sees the server's answer."""
        if self.state != OPEN:
            return
        self.state = CLOSING
        T.open[self.kind] -= 1
        try:
            self.live_sock.sendall(encode(close_payload(1000), CLOSE))
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
        self.conn: Http | None = None

    @property
    def live_conn(self) -> Http:
        """The receiving connection, once ``run`` made it."""
        assert self.conn is not None, "the session was not opened"
        return self.conn

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
        self.live_conn.send(request)
        status = self.live_conn.read_head().status
        if status != 200:
            raise ProtocolError(f"xhr_streaming answered {status}")
        self.lines = b""

    def _read_chunk(self, request: bytes) -> None:
        data = self.live_conn.read_chunk()
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
        answer = self.live_conn.round_trip(request)
        status, body = answer.status, answer.body
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
    return [(k, p / total) for k, p in zip(("ws", "xs", "xp"), parts, strict=True)]


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
