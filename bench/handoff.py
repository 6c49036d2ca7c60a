"""What handing connections between workers costs: CPU per request, how often it happens, throughput.

    apt-get install wrk           # once (bench/peers/install.sh does it too)
    .venv/bin/python bench/handoff.py [--duration 5] [--connections 64]

Every server here is ``python -m sockjs_gevent.testserver --workers N``
(the runner and its N workers on one port; a request of an HTTP session
reaches the worker holding the slot ``slot_of(session_id, N)``, see
sockjs_gevent/handoff), its /echo service driven over xhr-polling: a round
trip is POST xhr_send with ["<64 bytes>"] (204), then POST xhr (200,
a["<64 bytes>"]). Sessions are opened from this process first (their
opening polls grouped by slot on keep-alive connections, so they move few
connections), then wrk (bench/lib/handoff_polling.lua, one thread per
keep-alive connection) cycles through them. Servers run with
--disconnect-delay 30 so that no session expires between the warm-up and
the measured run. Each row is a fresh server: a 1 s wrk warm-up on
sessions of its own, then --duration seconds measured. Server CPU is
user+system time of the worker processes (the runner's children; the
process itself with one worker) from /proc/PID/stat before and after the
measured run; the generator's is wrk's rusage. "handed off" counts come
from the workers' own counters, the line each logs at SIGTERM
("hand-off: sent X, received Y, ..."), over the server's whole life
(opening polls and warm-up included), against every session request
sent to it.

1. Server CPU per request, workers pinned to core 0 (the runner under
   taskset: its workers inherit it), wrk on core 1, 32 keep-alive
   connections carrying two sessions each ("A send, B send, A poll,
   B poll, ..."):
     -w 1            one worker: no hand-off at all (the floor)
     -w 2, local     both sessions of a connection in one slot: after its
                     first request the connection never moves
     -w 2, handed    the two sessions in different slots: every request
                     moves the connection once (read and parsed by one
                     worker, passed with SCM_RIGHTS, parsed and served by
                     the other)
   Columns: requests/s; server CPU per request and per round trip
   (xhr_send + xhr); the server's cores used; core 0 time taken by other
   processes meanwhile (noise: the server's rate suffers, and its CPU per
   request rises with preemption); each slot's share of the server CPU;
   wrk's 99th percentile latency; requests handed off; wrk's share of
   core 1. Below: handed minus local per request, in microseconds and as
   a ratio to a local request, and local at -w 2 minus -w 1.
2. The share of session requests handed off with random session ids
   (200 sessions, each opened and then 5 round trips, 25 at a time, from
   this process) at -w 2 and -w 4: (a) a new TCP connection per request,
   expected (N-1)/N; (b) one keep-alive
   connection per session, as a browser's polling: the connection moves
   at most once, at its first request, expected (N-1)/N / 11. Both
   expectations hold if the worker that accepts a connection is
   independent of the worker holding its session; "received by slot"
   shows how many connections each worker was handed.
3. Throughput on this machine's cores, nothing pinned: round trips per
   second with --connections keep-alive connections (one wrk thread each),
     -w 1 and -w 2   one session per connection (a browser's polling),
                     half the sessions in each slot of two
     -w 2, handed    two sessions of different slots per connection
                     (twice the sessions): every request handed off
   with the server's CPU (cores used, per round trip) and wrk's (cores
   used, per request), and the cores other processes took meanwhile.
   wrk competes with the server for the same cores, so a rate here is
   the machine's with wrk on it, not the server's alone.

A row whose wrk passed 80% of a core is starred: it may have measured the
generator. Notes below the tables list errors (wrk's socket errors,
non-2xx answers, bad answers; hand-offs unreachable, too large or
dropped; warnings the servers logged), worker restarts, and rows during
which other processes took more than 0.2 of a core (machine noise).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter

import gevent
from gevent.pool import Pool

sys.path.insert(
    0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)  # the repository root, for `python bench/handoff.py`

from bench.lib.httpbench import latency_ms
from bench.lib.loadgen import MESSAGE, ProtocolError, cpu_seconds, http_connection, http_request, perf
from bench.lib.procs import BENCH, CLIENT_CORE, SERVER_CORE, start_pinned
from sockjs_gevent.handoff import slot_of
from testkit.rawhttp import HttpConnection
from testkit.serverproc import RunningServer

LUA = os.path.join(BENCH, "lib", "handoff_polling.lua")
PREFIX = "/echo/000"  # service and server_id
PAYLOAD = json.dumps([MESSAGE]).encode()
ECHOED = b"a" + PAYLOAD + b"\n"
WARMUP = 1  # seconds (wrk takes whole seconds)
GENERATOR_BOUND = 0.8  # of a core, as table.py
STAR = "*"
PINNED_CONNECTIONS = 32  # part 1: two sessions each
SHARE_SESSIONS = 200  # part 2
SHARE_ROUND_TRIPS = 5
SHARE_CONCURRENCY = 25
HANDOFF_LINE = re.compile(
    r"hand-off: sent (\d+), received (\d+), unreachable (\d+), too_large (\d+), "
    r"dropped (\d+), slot (\d+)"
)
HOLDS_SLOT = re.compile(r"worker (\d+) holds slot (\d+) of")
ALL_CORES = f"0-{(os.cpu_count() or 1) - 1}"


# -- the server --------------------------------------------------------------------------------


def start(workers: int, cores: str) -> RunningServer:
    """The test server with ``workers`` workers on a free port, under ``taskset -c cores``."""
    return start_pinned(
        [
            "-m",
            "sockjs_gevent.testserver",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--workers",
            str(workers),
            "--disconnect-delay",
            "30",
        ],
        core=cores,
    )  # type: ignore[arg-type]


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc/*/stat: this kernel has no /proc/PID/task/*/children)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(name))
    return sorted(found)


def workers_of(server: RunningServer) -> dict[int, int | None]:
    """Worker pid -> slot (from its "holds slot" line); the server itself, slot None, when it has no workers."""
    children = children_of(server.pid)
    if not children:
        return {server.pid: None}
    slots = {int(pid): int(slot) for pid, slot in HOLDS_SLOT.findall(server.log())}
    return {pid: slots.get(pid) for pid in children}


def cores_busy() -> list[tuple[int, int]]:
    """(busy, total) jiffies of each CPU, from /proc/stat (loadgen.machine_busy, per core)."""
    found = []
    with open("/proc/stat") as stat:
        for line in stat:
            if re.match(r"cpu\d", line):
                values = [int(v) for v in line.split()[1:]]
                found.append((sum(values) - values[3] - values[4], sum(values)))
    return found


def final_counts(log: str) -> list[dict[str, int]]:
    """Each worker's hand-off counters, from the line it logged at SIGTERM."""
    names = ("sent", "received", "unreachable", "too_large", "dropped", "slot")
    return [dict(zip(names, map(int, match), strict=True)) for match in HANDOFF_LINE.findall(log)]


def log_problems(log: str) -> list[str]:
    """Warnings, errors and tracebacks the server logged (first line of each)."""
    return [
        line.strip()[:160]
        for line in log.splitlines()
        if " WARNING " in line or " ERROR " in line or line.startswith("Traceback")
    ]


# -- sessions ----------------------------------------------------------------------------------


def session_ids(count: int, slot: int | None = None, slots: int = 1) -> list[str]:
    """``count`` random session ids, all of ``slot`` (of ``slots``) when given."""
    ids: list[str] = []
    while len(ids) < count:
        sid = secrets.token_hex(8)
        if slot is None or slot_of(sid, slots) == slot:
            ids.append(sid)
    return ids


def exchange(conn: HttpConnection, transport: str, sid: str, body: bytes = b"") -> tuple[int, bytes]:
    answer = conn.round_trip(http_request("POST", f"{PREFIX}/{sid}/{transport}", body))
    return answer.status, answer.body


def open_sessions(port: int, ids: list[str], slots: int) -> None:
    """Open every session (POST xhr answers "o"), one keep-alive connection per slot."""
    groups: dict[int, list[str]] = {}
    for sid in ids:
        groups.setdefault(slot_of(sid, slots), []).append(sid)

    def opener(group: list[str]) -> None:
        conn = http_connection(port)
        try:
            for sid in group:
                status, body = exchange(conn, "xhr", sid)
                if status != 200 or body != b"o\n":
                    raise ProtocolError(f"opening {sid}: {status} {body[:40]!r}")
        finally:
            conn.close()

    gevent.joinall([gevent.spawn(opener, group) for group in groups.values()], raise_error=True)


def pairs(count: int, kind: str) -> list[list[str]]:
    """Sessions for ``count`` wrk connections: "single" one each; "local" two of one slot; "handed" one of
    each slot. Of two slots, alternating between connections: half the sessions (or the first ones) in each."""
    if kind == "single":
        return [session_ids(1, i % 2, 2) for i in range(count)]
    if kind == "local":
        return [session_ids(2, i % 2, 2) for i in range(count)]
    if kind == "handed":
        return [session_ids(1, i % 2, 2) + session_ids(1, 1 - i % 2, 2) for i in range(count)]
    raise ValueError(kind)


# -- wrk ---------------------------------------------------------------------------------------


def wrk_version() -> str:
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (done.stdout + done.stderr).split(" [", 1)[0].strip()


def run_wrk(port: int, lines: list[list[str]], seconds: int, cores: str) -> dict:
    """wrk with one thread and one keep-alive connection per line of sessions; its figures and CPU."""
    with tempfile.NamedTemporaryFile("w", prefix="handoff-sessions-", suffix=".txt") as sessions:
        sessions.write("".join(" ".join(line) + "\n" for line in lines))
        sessions.flush()
        n = len(lines)
        command = [
            "taskset",
            "-c",
            cores,
            "wrk",
            f"-t{n}",
            f"-c{n}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            LUA,
            f"http://127.0.0.1:{port}/",
            "--",
            sessions.name,
            PREFIX,
            PAYLOAD.decode(),
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = perf()
        done = subprocess.run(command, capture_output=True, timeout=seconds + 60)
        wall = perf() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = done.stdout.decode()
    if done.returncode != 0 or "requests in" not in output:
        raise RuntimeError(f"wrk exited {done.returncode}: {output[-300:]} {done.stderr.decode()[-300:]}")
    errors: Counter = Counter()
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        for kind, count in zip(("connect", "read", "write", "timeout"), socket_errors.groups(), strict=True):
            errors[f"wrk socket {kind} errors"] += int(count)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors["non-2xx answers"] += int(non_2xx.group(1))
    bad = re.search(r"bad answers: (\d+)", output)
    errors["bad answers (not 204 / a-frame)"] += int(bad.group(1)) if bad else 0
    return {
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "wall": wall,
        "wrk_cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "p50_ms": latency_ms(output, 50),
        "p99_ms": latency_ms(output, 99),
        "errors": +errors,
    }


# -- one row: a fresh server, a warm-up, a measured run, the counters at SIGTERM ---------------


def polling_row(workers: int, kind: str, connections: int, seconds: int, server_cores: str, wrk_cores: str) -> dict:
    server = start(workers, server_cores)
    try:
        warm_lines, lines = pairs(connections, kind), pairs(connections, kind)
        ids = [sid for line in warm_lines + lines for sid in line]
        open_sessions(server.port, ids, max(workers, 2))
        warm = run_wrk(server.port, warm_lines, WARMUP, wrk_cores)
        pids = workers_of(server)
        before = {pid: cpu_seconds(pid) for pid in pids}
        busy0 = cores_busy()
        result = run_wrk(server.port, lines, seconds, wrk_cores)
        busy1 = cores_busy()
        used = {pid: cpu_seconds(pid) - before[pid] for pid in pids}
        restarted = sorted(set(workers_of(server)) ^ set(pids))
    finally:
        server.stop()
    log = server.log()
    counts = final_counts(log)
    wall, requests = result["wall"], result["requests"]
    server_cpu = sum(used.values())
    by_slot = sorted(((pids[pid], cpu) for pid, cpu in used.items()), key=lambda item: (item[0] is None, item[0]))
    result.update(
        workers=workers,
        kind=kind,
        sessions=sum(len(line) for line in lines),
        rate=requests / wall,
        round_trips=requests / 2 / wall,
        server_cpu=server_cpu,
        server_cores=server_cpu / wall,
        server_us=1e6 * server_cpu / max(1, requests),
        wrk_cores=result["wrk_cpu"] / wall,
        wrk_us=1e6 * result["wrk_cpu"] / max(1, requests),
        core_busy=[(b1 - b0) / max(1, t1 - t0) for (b0, t0), (b1, t1) in zip(busy0, busy1, strict=True)],
        slot_share=[cpu / server_cpu if server_cpu else 0.0 for _, cpu in by_slot] if workers > 1 else None,
        lifetime_requests=len(ids) + warm["requests"] + requests,
        handed=sum(c["sent"] for c in counts) if workers > 1 else None,
        counts=counts,
        problems=log_problems(log),
        restarted=restarted,
    )
    result["machine_cores"] = sum(result["core_busy"])
    result["other_cores"] = max(0.0, result["machine_cores"] - result["server_cores"] - result["wrk_cores"])
    result["errors"] = result["errors"] + warm["errors"]
    for c in counts:
        for name in ("unreachable", "too_large", "dropped"):
            if c[name]:
                result["errors"][f"hand-off {name} (slot {c['slot']})"] += c[name]
    if workers > 1 and len(counts) != workers:
        result["problems"].append(f"{len(counts)} hand-off lines at SIGTERM for {workers} workers")
    return result


def share_row(workers: int, keepalive: bool) -> dict:
    """Random sessions from this process, each opened then SHARE_ROUND_TRIPS round trips; requests handed off."""
    server = start(workers, ALL_CORES)
    errors: Counter = Counter()
    requests = 0
    try:
        port = server.port

        def client(sid: str) -> None:
            nonlocal requests
            steps = [("xhr", b"", b"o\n")] + [("xhr_send", PAYLOAD, b""), ("xhr", b"", ECHOED)] * SHARE_ROUND_TRIPS
            conn = None
            try:
                for transport, body, expected in steps:
                    if conn is None:
                        conn = http_connection(port)
                    status, answer = exchange(conn, transport, sid, body)
                    requests += 1
                    if status != (204 if transport == "xhr_send" else 200) or answer != expected:
                        errors[f"{transport} answered {status} {answer[:30]!r}"] += 1
                        return
                    if not keepalive:
                        conn.close()
                        conn = None
            except (OSError, EOFError, ProtocolError) as exc:
                errors[f"{type(exc).__name__}: {exc}"[:80]] += 1
            finally:
                if conn is not None:
                    conn.close()

        pool = Pool(SHARE_CONCURRENCY)
        for sid in session_ids(SHARE_SESSIONS):
            pool.spawn(client, sid)
        pool.join()
    finally:
        server.stop()
    log = server.log()
    counts = final_counts(log)
    for c in counts:
        for name in ("unreachable", "too_large", "dropped"):
            if c[name]:
                errors[f"hand-off {name} (slot {c['slot']})"] += c[name]
    problems = log_problems(log)
    if len(counts) != workers:
        problems.append(f"{len(counts)} hand-off lines at SIGTERM for {workers} workers")
    handed = sum(c["sent"] for c in counts)
    per_session = 1 + 2 * SHARE_ROUND_TRIPS
    expected = (workers - 1) / workers / (per_session if keepalive else 1)
    return {
        "workers": workers,
        "keepalive": keepalive,
        "requests": requests,
        "handed": handed,
        "share": handed / max(1, requests),
        "expected": expected,
        "received": [c["received"] for c in sorted(counts, key=lambda c: c["slot"])],
        "errors": errors,
        "problems": problems,
    }


# -- printing ----------------------------------------------------------------------------------


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def slots_text(r: dict) -> str:
    return "-" if not r["slot_share"] else "/".join(f"{100 * s:.0f}" for s in r["slot_share"])


def handed_text(r: dict) -> str:
    if r["handed"] is None:
        return "-"
    return f"{r['handed']:,} of {r['lifetime_requests']:,} ({pct(r['handed'] / max(1, r['lifetime_requests']))})"


def starred(r: dict) -> str:
    return STAR if r["wrk_cores"] > GENERATOR_BOUND else " "


NOISE = 0.2  # cores busy with other processes during a row: worth a note


def notes_for(label: str, r: dict, notes: list[str], other: float | None = None) -> None:
    if other is not None and other > NOISE:
        notes.append(f"{label}: other processes used {other:.2f} cores meanwhile: its figures are disturbed")
    if r.get("errors"):
        notes.append(f"{label}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(r["errors"].items())))
    for problem in r.get("problems", [])[:3]:
        notes.append(f"{label}: server logged: {problem}")
    if r.get("restarted"):
        notes.append(f"{label}: workers changed during the run (restarted?): {r['restarted']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="whole seconds measured per row (default 5)")
    parser.add_argument(
        "--connections", type=int, default=64, help="keep-alive connections (wrk threads) in part 3 (default 64)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 60:
        parser.error("--duration must be between 1 and 60 seconds")
    if not 2 <= args.connections <= 512:
        parser.error("--connections must be between 2 and 512")
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        parser.error("wrk is missing: apt-get install wrk (or bench/peers/install.sh)")
    seconds = args.duration
    began = time.monotonic()
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(
        f"Hand-off between workers (bench/handoff.py), {now}; nproc {os.cpu_count()}; "
        f"Python {platform.python_version()}; {wrk_version()}; load average at start {os.getloadavg()[0]:.2f}; "
        f"{seconds} s measured per row after a {WARMUP} s warm-up; xhr-polling on /echo, 64-byte messages"
    )
    notes: list[str] = []

    # 1 ---------------------------------------------------------------------------------------
    rows1 = [
        (
            "-w 1: one worker, no hand-off",
            polling_row(1, "local", PINNED_CONNECTIONS, seconds, str(SERVER_CORE), str(CLIENT_CORE)),
        ),
        (
            "-w 2, local: connection stays",
            polling_row(2, "local", PINNED_CONNECTIONS, seconds, str(SERVER_CORE), str(CLIENT_CORE)),
        ),
        (
            "-w 2, handed: every request moves",
            polling_row(2, "handed", PINNED_CONNECTIONS, seconds, str(SERVER_CORE), str(CLIENT_CORE)),
        ),
    ]
    print()
    print(
        f"1. Server CPU per xhr-polling request: workers pinned to core {SERVER_CORE}, wrk on core {CLIENT_CORE}, "
        f"{PINNED_CONNECTIONS} keep-alive connections x 2 sessions"
    )
    print(
        f"   {'':36}{'requests/s':>12}{'us/request':>11}{'us/round trip':>14}{'server cores':>13}"
        f"{'other, core ' + str(SERVER_CORE):>14}{'CPU by slot':>12}{'p99 ms':>8}   "
        f"{'handed off (workers, lifetime)':<32}{'wrk, core ' + str(CLIENT_CORE):>11}"
    )
    for label, r in rows1:
        other = max(0.0, r["core_busy"][SERVER_CORE] - r["server_cores"])
        print(
            f"   {label:<36}{r['rate']:>11,.0f}{starred(r)}{r['server_us']:>11.1f}{2 * r['server_us']:>14.1f}"
            f"{r['server_cores']:>13.2f}{other:>14.2f}{slots_text(r):>12}{(r['p99_ms'] or 0):>8.2f}   "
            f"{handed_text(r):<32}{pct(r['wrk_cores']):>11}"
        )
        notes_for(f"1 {label}", r, notes, max(0.0, r["core_busy"][SERVER_CORE] - r["server_cores"]))
    floor, local, handed = (r for _, r in rows1)
    extra = handed["server_us"] - local["server_us"]
    print(
        f"   handed - local: {extra:+.1f} us per request ({handed['server_us'] / local['server_us']:.2f}x a local "
        f"request; {2 * extra:+.1f} us per round trip); local, 2 workers - 1 worker: "
        f"{local['server_us'] - floor['server_us']:+.1f} us per request"
    )

    # 2 ---------------------------------------------------------------------------------------
    shares = {(w, keep): share_row(w, keep) for w in (2, 4) for keep in (False, True)}
    print()
    per_session = 1 + 2 * SHARE_ROUND_TRIPS
    print(
        f"2. Share of session requests handed off, random session ids: {SHARE_SESSIONS} sessions x "
        f"(open + {SHARE_ROUND_TRIPS} round trips = {per_session} requests), {SHARE_CONCURRENCY} at a time, "
        f"from the workers' counters at SIGTERM"
    )
    print(f"   {'':46}{'-w 2':>10}{'expected':>10}{'-w 4':>10}{'expected':>10}   received by slot (-w 2 | -w 4)")
    for keep, label in (
        (False, "(a) new TCP connection per request"),
        (True, "(b) one keep-alive connection per session"),
    ):
        a, b = shares[(2, keep)], shares[(4, keep)]
        print(
            f"   {label:<46}{pct(a['share']):>10}{pct(a['expected']):>10}{pct(b['share']):>10}{pct(b['expected']):>10}"
            f"   {'/'.join(map(str, a['received']))} | {'/'.join(map(str, b['received']))}"
        )
        for w, r in ((2, a), (4, b)):
            notes_for(f"2 {label[:3]} -w {w}", r, notes)
    print(
        "   expected: (N-1)/N of the requests in (a), of the sessions in (b), if which worker accepts a connection "
        "does not depend on who holds its session"
    )
    print(
        "   (requests: "
        + ", ".join(
            f"-w {w} {'(b)' if k else '(a)'} {r['handed']:,} of {r['requests']:,}" for (w, k), r in shares.items()
        )
        + ")"
    )

    # 3 ---------------------------------------------------------------------------------------
    n = args.connections
    rows3 = [
        ("-w 1, one session per connection", polling_row(1, "single", n, seconds, ALL_CORES, ALL_CORES)),
        ("-w 2, one session per connection", polling_row(2, "single", n, seconds, ALL_CORES, ALL_CORES)),
        ("-w 2, handed: 2 sessions per conn", polling_row(2, "handed", n, seconds, ALL_CORES, ALL_CORES)),
    ]
    print()
    print(
        f"3. Throughput, nothing pinned: xhr-polling echo round trips/s over {n} keep-alive connections "
        f"(one wrk thread each). wrk competes with the server for the same {os.cpu_count()} cores: its CPU is "
        f"the machine's too"
    )
    print(
        f"   {'':36}{'round trips/s':>14}{'vs -w 1':>9}{'server cores':>13}{'us/round trip':>14}{'CPU by slot':>12}"
        f"{'p99 ms':>8}   {'handed off (workers, lifetime)':<32}{'wrk cores':>10}{'wrk us/req':>11}{'other':>7}"
    )
    base = rows3[0][1]["round_trips"]
    for label, r in rows3:
        print(
            f"   {label:<36}{r['round_trips']:>13,.0f}{starred(r)}{r['round_trips'] / base:>8.2f}x"
            f"{r['server_cores']:>13.2f}{2 * r['server_us']:>14.1f}{slots_text(r):>12}{(r['p99_ms'] or 0):>8.2f}   "
            f"{handed_text(r):<32}{r['wrk_cores']:>10.2f}{r['wrk_us']:>11.1f}{r['other_cores']:>7.2f}"
        )
        notes_for(f"3 {label}", r, notes, r["other_cores"])
    busy = ", ".join(f"{r['machine_cores']:.2f}" for _, r in rows3)
    print(
        f"   (sessions: {', '.join(str(r['sessions']) for _, r in rows3)}, half of each slot; 'other': cores busy "
        f"with other processes meanwhile; the whole machine busy: {busy} cores)"
    )

    print()
    print(
        f"{STAR} wrk passed {GENERATOR_BOUND:.0%} of a core: the figure may be the generator's. "
        f"CPU by slot: each worker's share of the server CPU, slot 0 first."
    )
    for note in notes or ["no errors"]:
        print(f"   note: {note}")
    print(f"   ({time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
