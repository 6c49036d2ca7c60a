"""Soak mode (--sessions N --duration S): many sessions held open with checked traffic.

Opens the sessions (transport mix, some on /broadcast), sends echoes at
random intervals and broadcasts at a fixed one, checks everything arrives
once and in order, reports a line every --interval seconds, then closes
everything and checks the server freed it all. Returns the exit status.
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
from collections import Counter
from typing import Any

import gevent
from gevent.lock import Semaphore
from gevent.pool import Pool

from .rawclient import now
from .serverproc import Server, fd_count, proc_status, rss_mb, server_closes, server_counts, server_errors
from .sessions import KIND_NAMES, NEW, OPEN, kinds_for, make_session, start_session
from .tally import B, T, fmt_errors, percentile, verdict


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
            "t": round(now() - started),
            "phase": phase["name"],
            "client_open": sum(T.open.values()),
            "server_open": s_open,
            "server_registered": s_reg,
            "server_rss_mb": round(rss_mb(pid), 1),
            "server_fds": fd_count(pid),
            "client_rss_mb": round(rss_mb(os.getpid()), 1),
            "sent": T.sent,
            "received": T.received,
            "bsent": B.seq,
            "breceived": T.breceived,
            "heartbeats": sum(T.heartbeats.values()),
            "p99_ms": round(1000 * percentile(lat, 99), 1),
            "errors": dict(T.errors),
            "server_errors": dict(server_errors(stats)),
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
        print(
            f"{'t(s)':>5} {'phase':<8} {'c_open':>6} {'s_open':>6} {'s_reg':>5} {'srvRSS':>8} {'s_fds':>6} "
            f"{'cliRSS':>7} {'sent':>8} {'recv':>8} {'bsent':>5} {'brecv':>8} {'hbeats':>8} {'p99ms':>7} errors",
            flush=True,
        )
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
    print(
        f"opened {n - failed_open}/{n} sessions in {open_time:.1f} s "
        f"({Counter(s.kind for s in sessions if s.state == OPEN)}; {members} on /broadcast)",
        flush=True,
    )
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
    print(
        f"closed all sessions in {now() - t0:.1f} s; "
        f"waiting {args.disconnect_delay + 5:.0f} s for the server to expire them",
        flush=True,
    )
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
    print(
        f"sessions: {opened}/{n} opened in {open_time:.1f} s, {members} on /broadcast, mix "
        + ", ".join(f"{KIND_NAMES[k]} {c}" for k, c in sorted(Counter(kinds).items()))
    )
    print(
        f"server RSS: base {base_rss:.1f} MB, after open {after_open['server_rss_mb']:.1f} MB, "
        f"before close {before_close['server_rss_mb']:.1f} MB, peak {max(peak_rss, hwm):.1f} MB (VmHWM {hwm:.1f}), "
        f"end {end['server_rss_mb']:.1f} MB"
    )
    warm = next((r for r in rows if r["phase"] == "steady" and r["t"] >= open_time + 60), before_close)
    warm_kb = (warm["server_rss_mb"] - base_rss) * 1024 / max(1, opened)
    span = max(1.0, before_close["t"] - warm["t"])
    creep = before_close["server_rss_mb"] - warm["server_rss_mb"]
    print(
        f"server RSS per session: {per_session_kb:.1f} KiB just after opening, {warm_kb:.1f} KiB once traffic "
        f"flows (t={warm['t']} s, {warm['server_rss_mb']:.1f} MB); from then to the end of the soak "
        f"{creep:+.1f} MB in {span:.0f} s ({creep * 1024 / span * 60:+.0f} KiB/min)"
    )
    print(f"server fds: base {base_fds}, open {after_open['server_fds']}, end {end['server_fds']}")
    print(
        f"echo: {T.sent} sent, {T.received} received, RTT p50 {1000 * percentile(lat, 50):.1f} ms, "
        f"p99 {1000 * percentile(lat, 99):.1f} ms, max {1000 * max(lat, default=float('nan')):.1f} ms"
    )
    expected_b = sum(1 for s in sessions if s.member and s.state != NEW) * B.seq
    print(
        f"broadcast: {B.seq} published ({len(B.failed)} failed to send), {T.breceived} deliveries "
        f"(members x published = {expected_b})"
    )
    steady = max(1.0, args.duration)
    print(
        f"heartbeats: {sum(T.heartbeats.values())} ({dict(T.heartbeats)}), "
        f"{sum(T.heartbeats.values()) / steady:.0f}/s "
        f"vs at most {opened / args.heartbeat_delay:.0f}/s for silent sessions; "
        f"xhr-streaming re-opens {T.reopens}, polls {T.polls}"
    )
    print(f"client errors: {sum(T.errors.values())} {fmt_errors(T.errors)}")
    for kind, example in sorted(T.examples.items()):
        print(f"    e.g. {kind}: {example}")
    print(f"shutdown-phase client errors: {fmt_errors(T.shutdown_errors)}")
    print(
        f"server /stats errors during the soak: {fmt_errors(soak_server_errors)}; "
        f"closes during the soak: {fmt_errors(server_closes(stats_before_close))}"
    )
    print(
        f"server after shutdown: {s_open_end} open, {s_reg_end} registered; "
        f"errors {fmt_errors(server_errors(stats_end))}; closes {fmt_errors(server_closes(stats_end))}"
    )
    print(f"server log ({server.log_path}): {fmt_errors(server.trouble)}; exit status {code}")
    for line in server.examples:
        print("    " + line)
    problems = (
        sum(T.errors.values())
        + sum(soak_server_errors.values())
        + server.trouble["ERROR"]
        + server.trouble["Traceback"]
    )
    problems += failed_open
    record = {
        "rows": rows,
        "errors": T.errors,
        "shutdown_errors": T.shutdown_errors,
        "server_log": server.trouble,
        "base_rss": base_rss,
        "hwm": hwm,
    }
    return verdict(
        problems, sessions_left=s_open_end != 0 or s_reg_end != 0, exit_code=code, json_path=args.json, record=record
    )
