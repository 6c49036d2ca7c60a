"""sockjs-gevent beside sockjs-node, sockjs-tornado and aiohttp-sockjs: one table.

    bench/peers/install.sh        # once: the peers, into bench/.peers/
    cd /work/main && .venv/bin/python bench/bench.py [--duration 5] [--json out.json]
        [--servers sockjs-gevent,sockjs-gevent-pywsgi,sockjs-node,sockjs-tornado,aiohttp-sockjs,raw]
        [--scenarios a,b,c,d,e,f] [--hold 30] [--peers-dir bench/.peers]

Each server runs alone, pinned to core 0 (taskset -c 0); this process, the
load generator, runs on core 1. Every server serves SockJS /echo and
/broadcast with its default options (bench/sockjs_gevent_server.py,
bench/peers/*_server.*). Scenarios:

  a  websocket echo: 100 sessions, one 64-byte message in flight each
  b  broadcast: one sender, 1,000 websocket sessions on /broadcast, one message in flight
  c  sessions opened per second, 50 at a time: websocket; xhr-streaming
  d  echo over xhr-polling and over xhr-streaming, 50 sessions
  e  server RSS per idle session: 5,000 websocket; 2,000 xhr-streaming
  f  10,000 idle websocket sessions held --hold seconds (past the 25 s heartbeat)

Throughput figures are measured for --duration seconds after a 1 s warm-up;
(a)-(d) share one server process, (e) and (f) each get a fresh one. "raw"
(bench/raw_echo_server.py, no SockJS) runs (a) only: the generator's ceiling.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import gevent
from gevent.event import Event
from gevent.pool import Pool
from gevent.queue import Queue

from loadgen import (
    MAX_ROUNDS, MESSAGE, TIMEOUT, HttpConn, ProtocolError, Samples, WsClient, XhrStream,
    http_request, open_all, perf, run_loops, run_workers,
)
from procs import BENCH, Server, pin_to_client_core, raise_nofile_limit
from wsframe import PING, PONG, encode

TESTSERVER = ["-m", "sockjs_gevent.testserver", "--host", "127.0.0.1", "--port", "0"]  # ws_engines.py
WARMUP = 1.0
SOCKJS_PAYLOAD = json.dumps([MESSAGE]).encode()  # what the client sends: ["<64 chars>"]
SOCKJS_FRAME = b"a" + SOCKJS_PAYLOAD  # what comes back: a["<64 chars>"]
REFERENCE = "sockjs-node"
SCENARIOS = "abcdef"
ECHO_SESSIONS = 100
BROADCAST_SESSIONS = 1000
OPEN_CONCURRENCY = 50
HTTP_SESSIONS = 50
IDLE_WS = 5000
IDLE_XHR = 2000
HOLD_SESSIONS = 10_000
OPEN_TIMEOUT = 180.0  # opening 10,000 sessions on a slow server


# -- The servers ----------------------------------------------------------------

@dataclass
class Peer:
    name: str
    args: Callable[[str], list[str]]  # peers dir -> script args
    program: Callable[[str], Optional[list[str]]] = lambda peers: None  # None: this interpreter
    env: Callable[[str], dict[str, str]] = lambda peers: {}
    needs: Callable[[str], Optional[str]] = lambda peers: None  # a file that must exist
    scenarios: str = SCENARIOS
    sockjs: bool = True

    def start(self, peers: str) -> Server:
        return Server(self.args(peers), program=self.program(peers), env=self.env(peers))


def _in(peers: str, *parts: str) -> str:
    return os.path.join(peers, *parts)


SERVERS = {
    "sockjs-gevent": Peer("sockjs-gevent", lambda p: [os.path.join(BENCH, "sockjs_gevent_server.py"), "--port", "0"]),
    # The same on gevent's pywsgi (serve(server="pywsgi")), for the HTTP server's own share.
    "sockjs-gevent-pywsgi": Peer("sockjs-gevent-pywsgi", lambda p: [
        os.path.join(BENCH, "sockjs_gevent_server.py"), "--port", "0", "--server", "pywsgi"]),
    "sockjs-node": Peer(
        "sockjs-node", lambda p: [os.path.join(BENCH, "peers", "node_server.js"), "0"],
        program=lambda p: ["node"], env=lambda p: {"NODE_PATH": _in(p, "node", "node_modules")},
        needs=lambda p: _in(p, "node", "node_modules", "sockjs", "package.json"),
    ),
    "sockjs-tornado": Peer(
        "sockjs-tornado", lambda p: [os.path.join(BENCH, "peers", "tornado_server.py"), "0"],
        program=lambda p: [_in(p, "venv-tornado", "bin", "python")],
        needs=lambda p: _in(p, "venv-tornado", "bin", "python"),
    ),
    "aiohttp-sockjs": Peer(
        "aiohttp-sockjs", lambda p: [os.path.join(BENCH, "peers", "aiohttp_server.py"), "0"],
        program=lambda p: [_in(p, "venv-aiohttp", "bin", "python")],
        needs=lambda p: _in(p, "venv-aiohttp", "bin", "python"),
    ),
    "raw": Peer("raw", lambda p: [os.path.join(BENCH, "raw_echo_server.py"), "--port", "0"], scenarios="a", sockjs=False),
}


# -- (a) websocket echo, and the ceiling --------------------------------------

def websocket_echo(server: Server, path: str, sockjs: bool, sessions: int, duration: float) -> dict:
    """``sessions`` websockets, each with one 64-byte message in flight."""
    port = server.port
    frame = encode(SOCKJS_PAYLOAD if sockjs else MESSAGE.encode())
    expected = SOCKJS_FRAME if sockjs else MESSAGE.encode()

    def opener(i: int) -> WsClient:
        ws = WsClient(port, path.format(i=i))
        if sockjs and ws.read_data() != b"o":
            raise ProtocolError("no open frame")
        return ws

    def loop(ws: WsClient, samples: Samples, end: float) -> None:
        send, read = ws.sock.sendall, ws.read_data
        for _ in range(MAX_ROUNDS):
            sent = perf()
            if sent >= end:
                return
            send(frame)
            if read() != expected:
                raise ProtocolError("unexpected echo")
            samples.add(sent, perf())

    clients = open_all(sessions, opener)
    samples = run_loops(clients, loop, duration, WARMUP, server.pid)
    for ws in clients:
        ws.close(wait=False)
    return samples.summary()


# -- (b) broadcast ------------------------------------------------------------

def broadcast(server: Server, sessions: int, duration: float) -> dict:
    """One sender, ``sessions`` receivers (the sender is one of them), one message in flight.

    The next message goes once every session has the previous one (or after
    TIMEOUT: the missing deliveries count as "lost"). Latency: from the send
    to each session's receipt.
    """
    port = server.port
    pad = MESSAGE[8:]
    sent_at: dict[int, float] = {}
    got: Counter[int] = Counter()
    complete: dict[int, Event] = {}

    def opener(i: int) -> WsClient:
        ws = WsClient(port, f"/broadcast/0/bc{i}/websocket")
        if ws.read_data() != b"o":
            raise ProtocolError("no open frame")
        return ws

    def receive(ws: WsClient, samples: Samples) -> None:
        for _ in range(MAX_ROUNDS):
            payload = ws.read_data()
            if payload[:1] != b"a":
                raise ProtocolError(f"unexpected frame {payload[:40]!r}")
            now = perf()
            for message in payload.split(b'"')[1::2]:  # a["...","..."]: no quotes inside ours
                if message == b"end":
                    return
                seq = int(message[:8])
                samples.add(sent_at[seq], now)
                got[seq] += 1
                if got[seq] == sessions:
                    complete[seq].set()

    def send(ws: WsClient, samples: Samples, end: float) -> None:
        for seq in range(MAX_ROUNDS):
            now = perf()
            if now >= end:
                ws.send_frame(encode(b'["end"]'))
                return
            complete[seq] = Event()
            sent_at[seq] = now
            ws.send_frame(encode(json.dumps([f"{seq:08d}{pad}"]).encode()))
            if not complete[seq].wait(TIMEOUT):
                samples.counts["lost"] += sessions - got[seq]

    def loop(role: tuple, samples: Samples, end: float) -> None:
        kind, ws = role
        if kind == "send":
            send(ws, samples, end)
        else:
            receive(ws, samples)

    clients = open_all(sessions, opener)
    gevent.sleep(0.5)  # every session has joined
    samples = run_loops([("send", clients[0])] + [("recv", ws) for ws in clients], loop, duration, WARMUP, server.pid)
    for ws in clients:
        ws.close(wait=False)
    return samples.summary()


# -- (c) sessions opened per second -------------------------------------------

def session_opens(server: Server, concurrency: int, duration: float,
                  open_session: Callable[[int, str], tuple[Any, Callable[[], bytes]]]) -> dict:
    """``concurrency`` workers open sessions back to back: connect to "o", then close.

    ``open_session(port, tag)`` returns the session and how to read its first frame.
    """
    port = server.port

    def loop(worker: int, samples: Samples, end: float) -> None:
        for n in range(MAX_ROUNDS):
            started = perf()
            if started >= end:
                return
            session, first_frame = open_session(port, f"{worker}x{n}")
            if first_frame() != b"o":
                raise ProtocolError("no open frame")
            samples.add(started, perf())
            session.close()

    return run_workers(concurrency, loop, duration, WARMUP, server.pid).summary()


def websocket_opens(server: Server, concurrency: int, duration: float) -> dict:
    """Connect, handshake, read "o", close (client close frame, then hang up)."""
    def open_session(port: int, tag: str) -> tuple[WsClient, Callable[[], bytes]]:
        ws = WsClient(port, f"/echo/0/wo{tag}/websocket")
        return ws, ws.read_data

    return session_opens(server, concurrency, duration, open_session)


def xhr_streaming_opens(server: Server, concurrency: int, duration: float) -> dict:
    """POST xhr_streaming, read the prelude and "o", close the socket."""
    def open_session(port: int, tag: str) -> tuple[XhrStream, Callable[[], bytes]]:
        stream = XhrStream(port, f"/echo/0/xo{tag}")
        return stream, stream.frame

    return session_opens(server, concurrency, duration, open_session)


# -- (d) xhr-polling and xhr-streaming echo -----------------------------------

def xhr_streaming_echo(server: Server, prefix: str, sessions: int, duration: float) -> dict:
    """A held-open xhr_streaming response per session; messages via xhr_send."""
    port = server.port
    expected = SOCKJS_FRAME

    def opener(i: int) -> tuple:
        url = f"{prefix}/0/xs{i}"
        stream = XhrStream(port, url)
        if stream.frame() != b"o":
            raise ProtocolError("no open frame")
        return stream, HttpConn(port), http_request("POST", url + "/xhr_send", SOCKJS_PAYLOAD)

    def loop(session: tuple, samples: Samples, end: float) -> None:
        stream, sender, request = session
        for _ in range(MAX_ROUNDS):
            sent = perf()
            if sent >= end:
                return
            sender.send(request)
            status, head = sender.head()
            sender.body(status, head)
            if status != 204:
                raise ProtocolError(f"xhr_send answered {status}")
            if stream.frame() != expected:
                raise ProtocolError("unexpected frame")
            samples.add(sent, perf())

    opened = open_all(sessions, opener)
    samples = run_loops(opened, loop, duration, WARMUP, server.pid)
    result = samples.summary()
    result["reopens"] = sum(stream.reopens for stream, _, _ in opened)
    for stream, sender, _ in opened:
        stream.close()
        sender.close()
    return result


def loop_stalls(stalls: list[float], tick: float = 0.05) -> None:
    """Record how late this process's event loop wakes a ``tick`` sleep (run as a greenlet)."""
    for _ in range(MAX_ROUNDS):
        before = perf()
        gevent.sleep(tick)
        stalls.append(perf() - before - tick)


def xhr_polling_echo(server: Server, prefix: str, sessions: int, duration: float) -> dict:
    """Per round trip: POST xhr_send, then POST xhr until the a-frame comes.

    A session the server forgot shows as 404 on xhr_send or as a new "o" on
    the poll; each such event is counted ("expired") and logged
    (``expiry_events``) with the seconds between the end of this session's
    previous poll and the send that found it gone, as the generator saw
    them. ``generator_max_stall_s`` is the longest time the generator's own
    event loop was frozen: if it reaches the server's disconnect_delay (5 s),
    the polls were not re-issued in time and the expiry is the generator's
    doing; if it stays far below while sessions expire, the server is at fault.
    """
    port = server.port
    expected = SOCKJS_FRAME + b"\n"
    events: list[dict] = []
    stalls: list[float] = []
    t0 = perf()

    def poll_once(conn: HttpConn, poll: bytes) -> bytes:
        """One xhr request; the frame it answers (heartbeats skipped)."""
        for _ in range(100):  # normally once: "h" comes only after 25 s
            conn.send(poll)
            status, head = conn.head()
            body = conn.body(status, head)
            if body != b"h\n":
                return body
        raise ProtocolError("only heartbeats")

    def opener(i: int) -> list:
        url = f"{prefix}/0/xp{i}"
        conn = HttpConn(port)
        poll = http_request("POST", url + "/xhr")
        if poll_once(conn, poll) != b"o\n":
            raise ProtocolError("no open frame")
        return [i, conn, poll, http_request("POST", url + "/xhr_send", SOCKJS_PAYLOAD), perf()]

    def expired(session: list, where: str, sent: float, previous_poll_end: float) -> None:
        events.append({
            "session": session[0], "where": where, "at_s": round(sent - t0, 3),
            "since_previous_poll_s": round(sent - previous_poll_end, 3),
        })

    def loop(session: list, samples: Samples, end: float) -> None:
        _, conn, poll, send, _ = session
        for _ in range(MAX_ROUNDS):
            previous_poll_end = session[4]
            sent = perf()
            if sent >= end:
                return
            conn.send(send)
            status, head = conn.head()
            conn.body(status, head)
            if status == 404:  # the server forgot the session: open it again
                samples.counts["expired"] += 1
                expired(session, "xhr_send 404", sent, previous_poll_end)
                if poll_once(conn, poll) != b"o\n":
                    raise ProtocolError("no open frame after expiry")
                session[4] = perf()
                continue
            if status != 204:
                raise ProtocolError(f"xhr_send answered {status}")
            body = poll_once(conn, poll)
            session[4] = perf()
            if body == b"o\n":  # expired between send and poll: the message is lost
                samples.counts["expired"] += 1
                expired(session, "poll answered o", sent, previous_poll_end)
                continue
            if body != expected:
                raise ProtocolError(f"unexpected poll answer {body[:40]!r}")
            samples.add(sent, perf())

    opened = open_all(sessions, opener)
    watchdog = gevent.spawn(loop_stalls, stalls)
    samples = run_loops(opened, loop, duration, WARMUP, server.pid)
    watchdog.kill()
    for session in opened:
        session[1].close()
    result = samples.summary()
    result["expiry_events"] = events[:20]
    result["generator_max_stall_s"] = round(max(stalls, default=0.0), 3)
    return result


# -- (e) and (f): idle sessions -----------------------------------------------

def open_tolerant(count: int, opener: Callable[[int], object], errors: Counter) -> list:
    """Open ``count`` sessions 50 at a time; failures are counted, not raised."""
    def attempt(i: int):
        try:
            return opener(i)
        except Exception as exc:
            errors[f"open: {type(exc).__name__}: {str(exc)[:60]}"] += 1
            return None

    pool = Pool(50)
    with gevent.Timeout(OPEN_TIMEOUT, False):
        return [c for c in pool.imap(attempt, range(count)) if c is not None]
    errors["open: timed out"] += 1
    pool.kill()
    return []


def ws_opener(port: int, tag: str, timeout: float = TIMEOUT) -> Callable[[int], WsClient]:
    def opener(i: int) -> WsClient:
        ws = WsClient(port, f"/echo/0/{tag}{i}/websocket", timeout=timeout)
        if ws.read_data() != b"o":
            raise ProtocolError("no open frame")
        return ws
    return opener


def xhr_opener(port: int, tag: str) -> Callable[[int], XhrStream]:
    def opener(i: int) -> XhrStream:
        stream = XhrStream(port, f"/echo/0/{tag}{i}")
        if stream.frame() != b"o":
            raise ProtocolError("no open frame")
        return stream
    return opener


def ws_alive(clients: list[WsClient], errors: Counter) -> int:
    """How many of ``clients`` still echo a message (200 at a time)."""
    frame = encode(SOCKJS_PAYLOAD)

    def check(ws: WsClient) -> bool:
        try:
            ws.send_frame(frame)
            return ws.read_data() == SOCKJS_FRAME
        except Exception as exc:
            errors[f"echo: {type(exc).__name__}: {str(exc)[:60]}"] += 1
            return False

    return sum(Pool(200).imap(check, clients))


def xhr_alive(port: int, streams: list[XhrStream], tag: str, errors: Counter) -> int:
    """How many xhr-streaming sessions still echo (xhr_send on 50 shared connections)."""
    senders: Queue = Queue()
    for _ in range(50):
        senders.put(HttpConn(port))

    def check(i: int) -> bool:
        conn = senders.get()
        try:
            conn.send(http_request("POST", f"/echo/0/{tag}{i}/xhr_send", SOCKJS_PAYLOAD))
            status, head = conn.head()
            conn.body(status, head)
            return status == 204 and streams[i].frame() == SOCKJS_FRAME
        except Exception as exc:
            errors[f"echo: {type(exc).__name__}: {str(exc)[:60]}"] += 1
            return False
        finally:
            senders.put(conn)

    alive = sum(Pool(50).imap(check, range(len(streams))))
    while not senders.empty():
        senders.get().close()
    return alive


def idle_memory(server: Server, kind: str, count: int) -> dict:
    """Server RSS before and after opening ``count`` idle sessions (fresh server)."""
    errors: Counter = Counter()
    port = server.port
    make = ws_opener if kind == "websocket" else xhr_opener
    for c in open_tolerant(50, make(port, "warm"), errors):  # first-use allocations
        c.close()
    gevent.sleep(0.5)
    before = server.rss_kb()
    tag = "mem"
    clients = open_tolerant(count, make(port, tag), errors)
    gevent.sleep(1.0)
    after = server.rss_kb()
    if kind == "websocket":
        alive = ws_alive(clients, errors)
    else:
        alive = xhr_alive(port, clients, tag, errors) if len(clients) == count else 0
    for c in clients:
        c.close(wait=False) if kind == "websocket" else c.close()
    return {
        "sessions": count,
        "opened": len(clients),
        "alive": alive,
        "rss_before_kb": before,
        "rss_after_kb": after,
        "kb_per_session": round((after - before) / max(1, len(clients)), 2),
        "errors": dict(errors),
        "error_count": sum(errors.values()),
    }


def hold_idle(server: Server, count: int, hold: float) -> dict:
    """Open ``count`` websocket sessions, hold them ``hold`` s reading heartbeats, then echo on each."""
    errors: Counter = Counter()
    before = server.rss_kb()
    started = perf()
    clients = open_tolerant(count, ws_opener(server.port, "hold", timeout=hold + 60), errors)
    open_seconds = perf() - started
    heartbeats: Counter[int] = Counter()
    closed = Counter()

    def watch(i: int, ws: WsClient) -> None:
        try:
            for _ in range(MAX_ROUNDS):
                opcode, payload = ws.read()
                if opcode == PING:
                    ws.send_frame(encode(payload, PONG))
                elif payload == b"h":
                    heartbeats[i] += 1
                elif opcode == 0x8 or payload[:1] == b"c":
                    closed[f"closed by the server: {payload[:40]!r}"] += 1
                    return
        except Exception as exc:
            closed[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1

    watchers = [gevent.spawn(watch, i, ws) for i, ws in enumerate(clients)]
    gevent.sleep(1.0)
    opened_rss = server.rss_kb()
    gevent.sleep(max(0.0, hold - 1.0))
    held_rss = server.rss_kb()
    gevent.killall(watchers, timeout=10)
    errors.update(closed)
    alive = ws_alive(clients, errors)
    for ws in clients:
        ws.close(wait=False)
    return {
        "sessions": count,
        "opened": len(clients),
        "open_seconds": round(open_seconds, 1),
        "hold_s": hold,
        "with_heartbeat": len(heartbeats),
        "alive": alive,
        "rss_before_kb": before,
        "rss_opened_kb": opened_rss,
        "rss_held_kb": held_rss,
        "kb_per_session": round((held_rss - before) / max(1, len(clients)), 2),
        "errors": dict(errors),
        "error_count": sum(errors.values()),
    }


# -- Running ------------------------------------------------------------------

def guarded(results: dict, key: str, run: Callable[[], dict]) -> None:
    """results[key] = run(), or {"failed": why} if it raised."""
    try:
        results[key] = run()
    except Exception as exc:
        results[key] = {"failed": f"{type(exc).__name__}: {str(exc)[:200]}"}
    except gevent.Timeout as exc:
        results[key] = {"failed": f"timed out: {exc}"}


def with_server(peer: Peer, peers: str, results: dict, keys: list[str], body: Callable[[Server], None]) -> None:
    """Run ``body`` against a fresh ``peer`` process; a failed start marks ``keys`` failed."""
    try:
        server = peer.start(peers)
    except Exception as exc:
        for key in keys:
            results[key] = {"failed": f"server did not start: {str(exc)[:200]}"}
        return
    with server:
        body(server)
        log = server.stderr()
        if log.strip():
            results.setdefault("server_stderr_tail", "")
            results["server_stderr_tail"] += log[-1500:]


def run_server(peer: Peer, peers: str, scenarios: str, duration: float, hold: float) -> dict:
    results: dict = {}
    wanted = [s for s in scenarios if s in peer.scenarios]
    say = lambda what: print(f"  {peer.name}: {what}", file=sys.stderr, flush=True)

    def throughput(server: Server) -> None:
        if "a" in wanted:
            say("(a) websocket echo")
            path = "/echo/0/ws{i}/websocket" if peer.sockjs else "/"
            guarded(results, "ws_echo", lambda: websocket_echo(server, path, peer.sockjs, ECHO_SESSIONS, duration))
        if "b" in wanted:
            say("(b) broadcast")
            guarded(results, "broadcast", lambda: broadcast(server, BROADCAST_SESSIONS, duration))
        if "d" in wanted:
            say("(d) xhr-polling, xhr-streaming echo")
            guarded(results, "xhr_polling_echo", lambda: xhr_polling_echo(server, "/echo", HTTP_SESSIONS, duration))
            guarded(results, "xhr_streaming_echo", lambda: xhr_streaming_echo(server, "/echo", HTTP_SESSIONS, duration))
        if "c" in wanted:  # last: the opened sessions linger until disconnect_delay
            say("(c) sessions opened")
            guarded(results, "ws_opens", lambda: websocket_opens(server, OPEN_CONCURRENCY, duration))
            guarded(results, "xhr_streaming_opens", lambda: xhr_streaming_opens(server, OPEN_CONCURRENCY, duration))

    keys = {"a": ["ws_echo"], "b": ["broadcast"], "c": ["ws_opens", "xhr_streaming_opens"],
            "d": ["xhr_polling_echo", "xhr_streaming_echo"]}
    if set(wanted) & set("abcd"):
        with_server(peer, peers, results, [k for s in wanted for k in keys.get(s, [])], throughput)
    if "e" in wanted:
        say(f"(e) {IDLE_WS} idle websocket sessions")
        with_server(peer, peers, results, ["idle_ws"],
                    lambda server: guarded(results, "idle_ws", lambda: idle_memory(server, "websocket", IDLE_WS)))
        say(f"(e) {IDLE_XHR} idle xhr-streaming sessions")
        with_server(peer, peers, results, ["idle_xhr"],
                    lambda server: guarded(results, "idle_xhr", lambda: idle_memory(server, "xhr_streaming", IDLE_XHR)))
    if "f" in wanted:
        say(f"(f) {HOLD_SESSIONS} websocket sessions held {hold:g} s")
        with_server(peer, peers, results, ["hold"],
                    lambda server: guarded(results, "hold", lambda: hold_idle(server, HOLD_SESSIONS, hold)))
    return results


# -- The table ----------------------------------------------------------------

def header(title: str = "SockJS servers side by side") -> str:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (
        f"{title}, {now}; nproc {os.cpu_count()}; Python {platform.python_version()}; "
        f"gevent {gevent.__version__}; each server alone on core 0, load generator on core 1; "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )


def fmt(value, width: int = 8, spec: str = ".2f") -> str:
    return f"{value:{width}{spec}}" if isinstance(value, (int, float)) and value == value else " " * (width - 1) + "-"


def other_load(r: dict) -> float | None:
    """CPU cores busy with processes other than server and client (noise)."""
    cpu = r.get("cpu_cores", {})
    if "machine" not in cpu:
        return None
    return max(0.0, cpu["machine"] - cpu.get("server", 0.0) - cpu.get("client", 0.0))


@dataclass
class Row:
    title: str
    key: str
    value: Callable[[dict], Optional[float]]
    spec: str = ",.0f"
    show: Callable[[dict], Optional[str]] = field(default=lambda r: None)  # replaces the number's text


def _get(name: str) -> Callable[[dict], Optional[float]]:
    return lambda r: r.get(name)


ROWS = [
    Row("(a) ws echo, 100 x 64 B: round trips/s", "ws_echo", _get("rate")),
    Row("    p99 round trip, ms", "ws_echo", _get("p99_ms"), ".2f"),
    Row("    server CPU us per round trip", "ws_echo", _get("server_us_per_op")),
    Row("(b) broadcast 1 -> 1,000 ws: deliveries/s", "broadcast", _get("rate")),
    Row("    p99 delivery latency, ms", "broadcast", _get("p99_ms"), ".1f"),
    Row("    server CPU us per delivery", "broadcast", _get("server_us_per_op"), ".1f"),
    Row("(c) ws sessions opened/s (50 at a time)", "ws_opens", _get("rate")),
    Row("    xhr-streaming sessions opened/s", "xhr_streaming_opens", _get("rate")),
    Row("(d) xhr-polling echo, 50: round trips/s", "xhr_polling_echo", _get("rate")),
    Row("    p99 round trip, ms", "xhr_polling_echo", _get("p99_ms"), ".1f"),
    Row("    xhr-streaming echo, 50: round trips/s", "xhr_streaming_echo", _get("rate")),
    Row("    p99 round trip, ms", "xhr_streaming_echo", _get("p99_ms"), ".1f"),
    Row(f"(e) RSS KiB per idle ws session ({IDLE_WS:,})", "idle_ws", _get("kb_per_session"), ".1f"),
    Row(f"    RSS KiB per idle xhr-streaming ({IDLE_XHR:,})", "idle_xhr", _get("kb_per_session"), ".1f"),
    Row(f"(f) {HOLD_SESSIONS:,} idle ws: still echoing at end", "hold", _get("alive"), ",.0f",
        show=lambda r: f"{r['alive']:,}/{r['sessions']:,}"),
    Row("    sessions that saw a heartbeat", "hold", _get("with_heartbeat"), ",.0f"),
    Row("    server RSS while held, MiB", "hold", lambda r: r["rss_held_kb"] / 1024 if "rss_held_kb" in r else None, ",.0f"),
    Row("    RSS KiB per held session", "hold", _get("kb_per_session"), ".1f"),
]


def table(results: dict, servers: list[str], duration: float, hold: float) -> str:
    width = 17
    lines = [
        header(),
        f"(a)-(d): {duration:g} s measured after {WARMUP:g} s warm-up; (f) held {hold:g} s. "
        f"(x.xx) = ratio to {REFERENCE} (for ms, us and KiB, lower is better). '-' = not run.",
        "",
        f"{'':44}" + "".join(f" {name:>{width}}" for name in servers),
    ]
    for row in ROWS:
        cells = []
        ref = results.get(REFERENCE, {}).get(row.key, {})
        ref_value = row.value(ref) if ref and "failed" not in ref else None
        for name in servers:
            r = results.get(name, {}).get(row.key)
            if r is None:
                cells.append("-")
                continue
            if "failed" in r:
                cells.append("FAILED")
                continue
            value = row.value(r)
            if value is None or value != value:
                cells.append("-")
                continue
            text = row.show(r) or format(value, row.spec)
            if name != REFERENCE and ref_value and row.show(r) is None:
                text += f" ({value / ref_value:.2f})"
            cells.append(text)
        if any(c != "-" for c in cells):
            lines.append(f"{row.title:44}" + "".join(f" {c:>{width}}" for c in cells))
    lines += notes(results, servers)
    return "\n".join(lines)


def notes(results: dict, servers: list[str]) -> list[str]:
    out = [""]
    raw = results.get("raw", {}).get("ws_echo", {})
    best = max(((results.get(n, {}).get("ws_echo", {}).get("rate") or 0, n) for n in servers if n != "raw"), default=(0, ""))
    if raw.get("rate"):
        gen = raw.get("cpu_cores", {}).get("client")
        line = (f"Generator headroom: against the raw WebSocket echo (no SockJS) the generator did {raw['rate']:,.0f} round trips/s"
                f" using {fmt(gen, 0)} of its core")
        if best[0]:
            line += f"; the fastest SockJS server in (a), {best[1]}, reached {best[0]:,.0f}/s = {100 * best[0] / raw['rate']:.0f}% of that"
        out.append(line + ".")
    busy_gen, noisy = [], []
    for name in servers:
        for key, r in results.get(name, {}).items():
            if not isinstance(r, dict) or "cpu_cores" not in r:
                continue
            if r["cpu_cores"].get("client", 0) > 0.9:
                busy_gen.append(f"{name} {key} ({r['cpu_cores']['client']:.2f})")
            o = other_load(r)
            if o is not None and o > 0.3:
                noisy.append(o)
    if busy_gen:
        out.append("Generator core saturated (>0.9 cores), so these figures are the generator's limit, not the server's: "
                   + ", ".join(busy_gen) + ".")
    if noisy:
        out.append(f"WARNING: other processes kept up to {max(noisy):.1f} cores busy during some runs; rates and latencies"
                   " suffer, CPU us/op hold better.")
    for name in servers:
        for key, r in results.get(name, {}).items():
            if not isinstance(r, dict):
                continue
            said = []
            if "failed" in r:
                said.append(r["failed"])
            if r.get("error_count"):
                errs = r["errors"]
                said.append(f"{r['error_count']} errors: " + (
                    "; ".join(f"{n}x {e}" for e, n in list(errs.items())[:3]) if isinstance(errs, dict) else errs[0]))
            counts = r.get("counts", {})
            if counts.get("expired"):
                stall = r.get("generator_max_stall_s", 0.0)
                said.append(f"{counts['expired']} sessions were forgotten by the server mid-run and re-opened; the generator's"
                            f" event loop froze up to {stall:.2f} s (" + (
                                "over the 5 s disconnect_delay: polls were not re-issued in time, a generator artifact)"
                                if stall >= 4.5 else "far below the 5 s disconnect_delay: the server expired live sessions)"))
            if counts.get("lost"):
                said.append(f"{counts['lost']} deliveries lost (not there {TIMEOUT:g} s after the send)")
            if r.get("reopens"):
                said.append(f"stream re-opened {r['reopens']}x (response_limit)")
            if key in ("idle_ws", "idle_xhr") and "alive" in r and r["alive"] < r["sessions"]:
                said.append(f"only {r['alive']}/{r['sessions']} sessions still echoed")
            if said:
                out.append(f"{name} {key}: " + "; ".join(said))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per throughput figure (default 5)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--servers", default=",".join(SERVERS), help=f"comma-separated, of: {', '.join(SERVERS)}")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated letters a-f (default all)")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds (f) holds its sessions (default 30: past the 25 s heartbeat)")
    parser.add_argument("--peers-dir", default=os.path.join(BENCH, ".peers"), help="where bench/peers/install.sh put the peers")
    args = parser.parse_args(argv)
    if not 0.5 <= args.duration <= 60:
        parser.error("--duration must be between 0.5 and 60 seconds")
    if not 1 <= args.hold <= 600:
        parser.error("--hold must be between 1 and 600 seconds")
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in servers if s not in SERVERS]
    if unknown or not servers:
        parser.error(f"unknown server(s) {', '.join(unknown)}; choose from {', '.join(SERVERS)}")
    scenarios = "".join(s.strip().lower() for s in args.scenarios.split(",") if s.strip())
    if not scenarios or set(scenarios) - set(SCENARIOS):
        parser.error("--scenarios takes letters a-f, e.g. a,b,e")
    peers = os.path.abspath(args.peers_dir)
    missing = [n for n in servers if SERVERS[n].needs(peers) and not os.path.exists(SERVERS[n].needs(peers))]
    if missing:
        parser.error(f"{', '.join(missing)} not installed in {peers}: run bench/peers/install.sh first")
    limit = raise_nofile_limit()
    if limit < HOLD_SESSIONS + 2000 and "f" in scenarios:
        print(f"warning: open-file limit {limit} is below what (f) needs", file=sys.stderr)
    pin_to_client_core()
    started = perf()
    results: dict = {}
    for name in servers:
        results[name] = run_server(SERVERS[name], peers, scenarios, args.duration, args.hold)
        gevent.sleep(1.0)  # let the closed sockets settle between servers
    print(table(results, servers, args.duration, args.hold))
    print(f"\n(total {perf() - started:.0f} s)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"header": header(), "duration": args.duration, "hold": args.hold, "servers": results}, out, indent=2)


if __name__ == "__main__":
    sys.exit(main())
