"""Cycles mode (--cycles K): open a session, echo once, close it; K times.

Shows the server frees what each session used: RSS must stay flat after
the first report and no session may be left open or registered once the
disconnect delay has passed. Returns the exit status.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

import gevent
from gevent.pool import Pool

from testkit.rawhttp import ProtocolError
from testkit.wsframe import CLOSE, close_payload, encode

from .rawclient import IO_TIMEOUT, Http, now, post
from .serverproc import Server, fd_count, proc_status, rss_mb, server_closes, server_counts, server_errors
from .sessions import (
    CLASSES,
    CLOSING,
    KIND_NAMES,
    NEW,
    OPEN,
    Session,
    WsSession,
    XhrPollingSession,
    XhrStreamingSession,
    kinds_for,
)
from .tally import T, fmt_errors, verdict


def one_cycle(i: int, kind: str, args: argparse.Namespace, pad: str) -> None:
    """Open a session on /echo, echo one message, close it the way its transport does."""
    sess = CLASSES[kind](i, kind, False, "/echo")
    try:
        with gevent.Timeout(args.timeout, TimeoutError(f"cycle took over {args.timeout} s")):
            if isinstance(sess, WsSession):
                cycle_ws(sess, pad)
            elif isinstance(sess, XhrStreamingSession):
                cycle_xs(sess, pad)
            elif isinstance(sess, XhrPollingSession):
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
    sess.open()
    sess.send_echo(pad)
    while sess.pending and sess.state == OPEN:
        sess.read_frame()
    leave(sess)
    sess.live_sock.sendall(encode(close_payload(1000), CLOSE))
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
    print(
        f"server pid {pid} port {server.port}: RSS {base_rss:.1f} MB, {fd_count(pid)} fds before any session",
        flush=True,
    )
    kinds = kinds_for(args.cycles, args.mix)
    rows: list[dict[str, Any]] = []
    started = now()
    done = {"n": 0}

    def line(label: str) -> dict[str, Any]:
        stats = server.stats()
        s_open, s_reg = server_counts(stats)
        elapsed = now() - started
        row = {
            "cycles": done["n"],
            "t": round(elapsed, 1),
            "rate": round(done["n"] / max(elapsed, 1e-9)),
            "server_rss_mb": round(rss_mb(pid), 1),
            "server_fds": fd_count(pid),
            "server_open": s_open,
            "server_registered": s_reg,
            "errors": dict(T.errors),
            "server_errors": dict(server_errors(stats)),
            "label": label,
        }
        rows.append(row)
        print(
            f"{label:<8} {row['cycles']:>7} {row['t']:>7} {row['rate']:>6} {row['server_rss_mb']:>8.1f} "
            f"{row['server_fds']:>6} {s_open:>6} {s_reg:>6}  "
            f"{fmt_errors(T.errors)} srv:{fmt_errors(server_errors(stats))}",
            flush=True,
        )
        return row

    print(
        f"{'':<8} {'cycles':>7} {'t(s)':>7} {'per_s':>6} {'srvRSS':>8} {'s_fds':>6} {'s_open':>6} {'s_reg':>6}  errors",
        flush=True,
    )
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
    print(
        f"cycles: {args.cycles} ({', '.join(f'{KIND_NAMES[k]} {c}' for k, c in sorted(Counter(kinds).items()))}), "
        f"concurrency {args.concurrency}, {args.cycles / (end['t'] - args.disconnect_delay - 5):.0f}/s"
    )
    print(
        f"server RSS: base {base_rss:.1f} MB, at {first['cycles']} cycles {first['server_rss_mb']:.1f} MB, "
        f"end {end['server_rss_mb']:.1f} MB (growth since then {growth:+.1f} MB), peak VmHWM {hwm:.1f} MB"
    )
    print(
        f"server after expiry: {s_open} open, {s_reg} registered, {end['server_fds']} fds; "
        f"closes {fmt_errors(server_closes(stats_end))}; errors {fmt_errors(server_errors(stats_end))} "
        f"(aborted = xhr-streaming clients hanging up, expected)"
    )
    print(f"client errors: {sum(T.errors.values())} {fmt_errors(T.errors)}")
    for kind, example in sorted(T.examples.items()):
        print(f"    e.g. {kind}: {example}")
    print(f"server log ({server.log_path}): {fmt_errors(server.trouble)}; exit status {code}")
    for example in server.examples:
        print("    " + example)
    problems = sum(T.errors.values()) + server.trouble["ERROR"] + server.trouble["Traceback"]
    unexpected = server_errors(stats_end) - Counter({"aborted": 10**12})
    problems += sum(unexpected.values())
    if growth > args.rss_growth_limit:
        print(
            f"PROBLEM: RSS grew {growth:.1f} MB (> {args.rss_growth_limit} MB) after the first {first['cycles']} cycles"
        )
        problems += 1
    record = {"rows": rows, "errors": T.errors, "server_log": server.trouble, "hwm": hwm}
    return verdict(problems, sessions_left=bool(s_open or s_reg), exit_code=code, json_path=args.json, record=record)
