"""The Python (gevent) load generator's scenarios, run inside the bench process.

bench.py uses them with ``--generator python``; bench/ws_engines.py uses
websocket_echo. They saturate the generator's core before the faster
servers do (bench.py's default generator is bench/node/loadgen.js), so
with them compare the CPU-per-operation figures, not the rates.
Each takes the RunningServer and returns the same dict as the Node
generator: rate, p50_ms, p99_ms, cpu_cores {client, server, machine},
server_us_per_op, counts, errors, error_count (and the memory figures
for idle_memory and hold_idle).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event
from gevent.pool import Pool
from gevent.queue import Queue

from bench.lib.loadgen import (
    MAX_ROUNDS,
    MESSAGE,
    TIMEOUT,
    ProtocolError,
    Samples,
    WsClient,
    XhrStream,
    http_connection,
    http_request,
    open_all,
    perf,
    run_loops,
    run_workers,
)
from testkit.rawhttp import HttpConnection
from testkit.serverproc import RunningServer
from testkit.wsframe import PING, PONG, encode

WARMUP = 1.0
SOCKJS_PAYLOAD = json.dumps([MESSAGE]).encode()  # what the client sends: ["<64 chars>"]
SOCKJS_FRAME = b"a" + SOCKJS_PAYLOAD  # what comes back: a["<64 chars>"]
OPEN_TIMEOUT = 180.0  # opening 10,000 sessions on a slow server


# -- (a) websocket echo, and the ceiling --------------------------------------


def websocket_echo(server: RunningServer, path: str, sockjs: bool, sessions: int, duration: float) -> dict:
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


def broadcast(server: RunningServer, sessions: int, duration: float) -> dict:
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


def session_opens(
    server: RunningServer,
    concurrency: int,
    duration: float,
    open_session: Callable[[int, str], tuple[Any, Callable[[], bytes]]],
) -> dict:
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


def websocket_opens(server: RunningServer, concurrency: int, duration: float) -> dict:
    """Connect, handshake, read "o", close (client close frame, then hang up)."""

    def open_session(port: int, tag: str) -> tuple[WsClient, Callable[[], bytes]]:
        ws = WsClient(port, f"/echo/0/wo{tag}/websocket")
        return ws, ws.read_data

    return session_opens(server, concurrency, duration, open_session)


def xhr_streaming_opens(server: RunningServer, concurrency: int, duration: float) -> dict:
    """POST xhr_streaming, read the prelude and "o", close the socket."""

    def open_session(port: int, tag: str) -> tuple[XhrStream, Callable[[], bytes]]:
        stream = XhrStream(port, f"/echo/0/xo{tag}")
        return stream, stream.frame

    return session_opens(server, concurrency, duration, open_session)


# -- (d) xhr-polling and xhr-streaming echo -----------------------------------


def xhr_streaming_echo(server: RunningServer, prefix: str, sessions: int, duration: float) -> dict:
    """A held-open xhr_streaming response per session; messages via xhr_send."""
    port = server.port
    expected = SOCKJS_FRAME

    def opener(i: int) -> tuple:
        url = f"{prefix}/0/xs{i}"
        stream = XhrStream(port, url)
        if stream.frame() != b"o":
            raise ProtocolError("no open frame")
        return stream, http_connection(port), http_request("POST", url + "/xhr_send", SOCKJS_PAYLOAD)

    def loop(session: tuple, samples: Samples, end: float) -> None:
        stream, sender, request = session
        for _ in range(MAX_ROUNDS):
            sent = perf()
            if sent >= end:
                return
            status = sender.round_trip(request).status
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


def xhr_polling_echo(server: RunningServer, prefix: str, sessions: int, duration: float) -> dict:
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

    def poll_once(conn: HttpConnection, poll: bytes) -> bytes:
        """One xhr request; the frame it answers (heartbeats skipped)."""
        for _ in range(100):  # normally once: "h" comes only after 25 s
            body = conn.round_trip(poll).body
            if body != b"h\n":
                return body
        raise ProtocolError("only heartbeats")

    def opener(i: int) -> list:
        url = f"{prefix}/0/xp{i}"
        conn = http_connection(port)
        poll = http_request("POST", url + "/xhr")
        if poll_once(conn, poll) != b"o\n":
            raise ProtocolError("no open frame")
        return [i, conn, poll, http_request("POST", url + "/xhr_send", SOCKJS_PAYLOAD), perf()]

    def expired(session: list, where: str, sent: float, previous_poll_end: float) -> None:
        events.append(
            {
                "session": session[0],
                "where": where,
                "at_s": round(sent - t0, 3),
                "since_previous_poll_s": round(sent - previous_poll_end, 3),
            }
        )

    def loop(session: list, samples: Samples, end: float) -> None:
        _, conn, poll, send, _ = session
        for _ in range(MAX_ROUNDS):
            previous_poll_end = session[4]
            sent = perf()
            if sent >= end:
                return
            status = conn.round_trip(send).status
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
        senders.put(http_connection(port))

    def check(i: int) -> bool:
        conn = senders.get()
        try:
            status = conn.round_trip(http_request("POST", f"/echo/0/{tag}{i}/xhr_send", SOCKJS_PAYLOAD)).status
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


def idle_memory(server: RunningServer, kind: str, count: int) -> dict:
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


def hold_idle(server: RunningServer, count: int, hold: float) -> dict:
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
