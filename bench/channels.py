#!/usr/bin/env python
"""Channels across worker processes through Redis: publishes/s, delivery latency, bytes per publish (issue 27).

    .venv/bin/python bench/channels.py [--modes pattern,channel,cluster] [--seconds 3] [--rate 1000]
        [--publishers 2] [--workers 4] [--channels 100] [--per-worker 10] [--members 10] [--markdown] [--json PATH]

Three ways of carrying sockjs_gevent.channels between processes:

  pattern  RedisBackend(url, subscribe="pattern"): every process PSUBSCRIBEs
           ``sockjs:*``, so every publish reaches every worker (and every
           publisher), which drops what it has no member for;
  channel  RedisBackend(url, subscribe="channel"), the default: a worker
           SUBSCRIBEs a channel when its first local member joins, so Redis
           sends it its own channels only;
  cluster  RedisClusterBackend(url): SPUBLISH / SSUBSCRIBE on a Redis Cluster
           of 3 masters with a replica each.

For each mode, a fresh Redis (testkit.redisservers: one redis-server, or the
cluster) and fresh processes of bench/channels_worker.py (the mode becomes a
backend there, in MODES):

- ``--workers`` workers; worker i (from 0) holds ``--per-worker`` channels of
  ch0..ch(N-1), N = ``--channels``, a contiguous block: ch(i*per_worker) to
  ch(i*per_worker + per_worker - 1). With the defaults, 40 of the 100
  channels have members, each on one worker, and a publish to the other 60
  reaches no member. Each held channel has ``--members`` fake members: a
  member only counts what the hub hands it (no client, no socket), so the
  figures are the bus's and the hub's, not a session's;
- ``--publishers`` publisher processes with no member, publishing
  round-robin over all N channels with ``hub.channel(name).publish(text)``
  on the same kind of backend, then ``channels.flush()``. Two by default:
  one publisher spends much of its time waiting for its pipeline's replies
  (the machine's cores then idle); two keep them busy.

A publish to a held channel must reach that channel's members exactly once:
deliveries are counted per message, and lost or duplicated ones reported.
Before measuring, every publisher probes every channel until each worker
has had a probe on each of its channels (the subscriptions are live, every
connection is open). Then two measurements per mode, ``--seconds`` each:

  max rate  the publishers publish as fast as they can (a flush marker every
            500 publishes, at most two batches waiting for the backend's
            writer, so its queue never overflows and drops); "delivered end to
            end" is every publish made over the time from the first publish to
            the last delivery (or the publishers' last flush, if later), shown
            in parentheses if a delivery was lost. Its latency is queueing.
  paced     ``--rate`` publishes/s in all, evenly spaced: delivery latency
            p50 / p99 / max, from the wall-clock time a publisher stamped in
            the message as it called publish() to the member's receipt
            (time.time() in both processes: one machine, one clock), over
            every delivery (percentiles from 2 %-wide buckets, the max exact).

Under each: the CPU every process used over the measurement (publishing
until the last delivery arrived; /proc/PID/stat, % of one core) and how
many of the machine's cores were busy, ours and other processes' ("others':
noise), then a line saying what bounded the max rate: the machine's cores,
a process at its core's limit (a publisher there: the figure is the load
generator's, starred), or neither (the publishers wait on round trips).
Bytes: what each process received on its TCP sockets, which are its Redis
connections only (commands come on a pipe), counted by the kernel
(tcpi_bytes_received: RESP framing included; /proc/self/io rchar does not
count a socket's recv); per publish made in all, and per publish to one of
the worker's own channels. With pattern subscription every worker reads
every publish, about 10x what it needs here; with channel subscription (or
sharded, in the cluster) only its own channels'.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

# Run as `python bench/channels.py`, this folder is on sys.path and the repository root is not.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.lib.loadgen import cpu_seconds, machine_busy, perf
from testkit.redisservers import RedisCluster, RedisServer
from testkit.serverproc import ROOT, Output, child_env, stop_process

#: The modes, as bench/channels_worker.py's MODES maps them to backends (this process imports no gevent).
MODES = ("pattern", "channel", "cluster")
#: A publisher at this share of its core or more may be what bounds the max rate.
PUBLISHER_BOUND = 0.9
#: A worker waits this long without a delivery before it gives up on the missing ones.
IDLE = 2.0
#: Latency histogram buckets (bench/channels_worker.py): 2 % wide, from 1 us.
BUCKET_BASE = 1.02
BUCKET_FLOOR = 1e-6
LINE = re.compile(r"\n")


# -- processes -------------------------------------------------------------------


class Child:
    """A bench/channels_worker.py process: JSON commands on its stdin, one JSON line back each."""

    def __init__(self, name: str, args: list[str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.channels_worker", *args],
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        assert self.process.stdin and self.process.stdout and self.process.stderr
        self.stdin: IO[str] = self.process.stdin
        self.out = Output(self.process.stdout)
        self.err = Output(self.process.stderr)
        self.taken = 0  # lines of out read so far

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, **command: Any) -> None:
        self.stdin.write(json.dumps(command) + "\n")
        self.stdin.flush()

    def next(self, timeout: float) -> dict[str, Any] | None:
        """Its next line, None if none came within ``timeout`` s; RuntimeError if it exited."""
        try:
            self.out.wait_for(LINE, timeout, start=self.taken)
        except AssertionError:
            if self.out.ended or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.poll()}):\n{self.err.text()[-3000:]}") from None
            return None
        line = self.out.lines[self.taken]
        self.taken += 1
        answer: dict[str, Any] = json.loads(line)
        return answer

    def answer(self, timeout: float) -> dict[str, Any]:
        """Its next line; RuntimeError after ``timeout`` s."""
        got = self.next(timeout)
        if got is None:
            raise RuntimeError(f"{self.name} did not answer within {timeout:g} s:\n{self.err.text()[-3000:]}")
        return got

    def ask(self, timeout: float = 30.0, **command: Any) -> dict[str, Any]:
        self.send(**command)
        return self.answer(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.send(cmd="quit")
            except OSError:
                pass
        stop_process(self.process, 5.0)


@dataclass
class Redis:
    """The Redis of one mode: its URL and its processes (name -> pid)."""

    url: str
    pids: dict[str, int]


@contextmanager
def redis_for(mode: str) -> Iterator[Redis]:
    """A fresh redis-server, or for ``cluster`` a Redis Cluster of 3 masters with a replica each."""
    if mode == "cluster":
        cluster = RedisCluster(masters=3, replicas=1)
        cluster.start()
        try:
            masters = set(cluster.masters())
            pids: dict[str, int] = {}
            for port in sorted(cluster.nodes, key=lambda p: (p not in masters, p)):
                process = cluster.server(port).process
                assert process is not None
                pids[f"{'master' if port in masters else 'replica'} :{port}"] = process.pid
            yield Redis(cluster.url, pids)
        finally:
            cluster.stop()
    else:
        server = RedisServer().start()
        try:
            assert server.process is not None
            yield Redis(server.url, {f"redis-server :{server.port}": server.process.pid})
        finally:
            server.stop()


# -- one mode ----------------------------------------------------------------------


def worker_args(args: argparse.Namespace, role: str, mode: str, url: str, index: int) -> list[str]:
    return [
        *("--role", role, "--mode", mode, "--url", url, "--index", str(index)),
        *("--channels", str(args.channels), "--per-worker", str(args.per_worker), "--members", str(args.members)),
    ]


def warm_up(workers: list[Child], publishers: list[Child], rounds: int = 50) -> None:
    """Every publisher probes every channel (its connections open) until each worker had a probe on each channel."""
    cold = list(workers)
    for _ in range(rounds):
        for publisher in publishers:
            publisher.ask(cmd="probe")
        for worker in list(cold):
            said = worker.next(1.0)
            if said is not None:
                if not said.get("warm"):
                    raise RuntimeError(f"{worker.name} said {said} while warming up")
                cold.remove(worker)
        if not cold:
            return
    raise RuntimeError(f"{', '.join(w.name for w in cold)} never got a probe on each of its channels")


def percentile(histogram: Counter[int], p: float) -> float | None:
    """The ``p``-th percentile of a latency histogram, in ms (the bucket's middle)."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = min(total - 1, int(total * p / 100))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen > rank:
            return 1000 * BUCKET_FLOOR * math.pow(BUCKET_BASE, bucket + 0.5)
    return None


def measure(
    phase: str, seconds: float, rate: float, workers: list[Child], publishers: list[Child], redis: Redis
) -> dict[str, Any]:
    """One measurement: publish for ``seconds`` (paced at ``rate`` in all, or at full speed with 0), collect."""
    for worker in workers:
        worker.ask(cmd="reset", phase=phase)
    pids = {c.name: c.pid for c in publishers + workers} | redis.pids
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy0, total0 = machine_busy()
    started = perf()
    for publisher in publishers:
        publisher.send(cmd="run", phase=phase, seconds=seconds, rate=rate / len(publishers))
    sent = [p.answer(seconds + 120) for p in publishers]
    published = [s["published"] for s in sent]
    for worker in workers:
        worker.send(cmd="collect", published=published, idle=IDLE)
    got = [w.answer(120) for w in workers]
    wall = perf() - started
    busy1, total1 = machine_busy()
    cpu = {name: (cpu_seconds(pid) - cpu0[name]) / wall for name, pid in pids.items()}
    machine = (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1)

    total = sum(sum(counts) for counts in published)
    first = min(s["first"] for s in sent)
    end = max([s["flushed_at"] for s in sent] + [g["last"] for g in got if g["last"]])
    histogram: Counter[int] = Counter()
    for g in got:
        histogram.update({int(k): n for k, n in g["histogram"].items()})
    return {
        "publishes": total,
        "offered_rate": total / max(1e-9, max(s["published_until"] for s in sent) - first),
        "rate": total / max(1e-9, end - first),
        "deliveries_rate": sum(g["deliveries"] for g in got) / max(1e-9, end - first),
        "deliveries": sum(g["deliveries"] for g in got),
        "expected": sum(g["expected"] for g in got),
        "lost": sum(g["lost"] for g in got),
        "duplicated": sum(g["duplicated"] + g["unexpected"] for g in got),
        "not_flushed": sum(not s["flushed"] for s in sent),
        "dropped": sum(s["dropped"] for s in sent),
        "p50_ms": percentile(histogram, 50),
        "p99_ms": percentile(histogram, 99),
        "max_ms": max((g["latency_ms"]["max"] or 0.0 for g in got), default=None),
        "worker_p99_ms": [g["latency_ms"]["p99"] for g in got],
        "cpu": cpu,
        "us_per_publish": {
            group: 1e6 * wall * sum(share for name, share in cpu.items() if kind(name) == group) / max(1, total)
            for group in ("publisher", "worker", "redis")
        },
        "machine": machine,
        "wall": wall,
        "worker_bytes_per_publish": [g["bytes_received"] / max(1, total) for g in got],
        "worker_bytes_per_own_publish": [
            g["bytes_received"] / max(1, sum(counts[c] for counts in published for c in g["channels"])) for g in got
        ],
        "publisher_bytes_per_publish": [s["bytes_received"] / max(1, total) for s in sent],
        "sockets_closed": {
            c.name: r["tcp_closed"] for c, r in zip(workers + publishers, got + sent, strict=True) if r["tcp_closed"]
        },
        "workers": [{k: v for k, v in g.items() if k != "histogram"} for g in got],
        "publishers": [{k: v for k, v in s.items() if k != "published"} for s in sent],
    }


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    children: list[Child] = []
    with redis_for(mode) as redis:
        try:
            workers = [
                Child(f"worker {i + 1}", worker_args(args, "worker", mode, redis.url, i)) for i in range(args.workers)
            ]
            children += workers
            publishers = [
                Child(f"publisher {i + 1}", worker_args(args, "publisher", mode, redis.url, i))
                for i in range(args.publishers)
            ]
            children += publishers
            for child in children:
                ready = child.answer(60)
                if not ready.get("ready"):
                    raise RuntimeError(f"{child.name} said {ready} instead of ready")
            warm_up(workers, publishers)
            return {
                "max": measure("m", args.seconds, 0, workers, publishers, redis),
                "paced": measure("p", args.seconds, args.rate, workers, publishers, redis),
                "redis": list(redis.pids),
            }
        finally:
            for child in children:
                child.stop()


# -- the table -----------------------------------------------------------------------


def number(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None or value != value else format(value, spec)


def numbers(values: list[float], spec: str = ",.0f") -> str:
    return " ".join(number(v, spec) for v in values)


def kind(name: str) -> str:
    """publisher, worker or redis: the kind of process a CPU figure is for."""
    first = name.split()[0]
    return first if first in ("publisher", "worker") else "redis"


def shares(r: dict[str, Any], prefix: str) -> list[float]:
    """CPU, % of one core, of the processes whose names start with ``prefix``."""
    return [100 * share for name, share in r["cpu"].items() if name.startswith(prefix)]


def redis_shares(r: dict[str, Any]) -> str:
    """Each redis-server's CPU, % of one core; in a cluster "m" before the masters', "r" before the replicas'."""
    roles: dict[str, list[float]] = {}
    for name, share in r["cpu"].items():
        if kind(name) == "redis":
            roles.setdefault(name.split()[0], []).append(100 * share)
    if list(roles) == ["redis-server"]:
        return numbers(roles["redis-server"])
    return ", ".join(f"{role[0]} {numbers(values)}" for role, values in roles.items())


def publisher_bound(r: dict[str, Any]) -> bool:
    return any(share >= 100 * PUBLISHER_BOUND for share in shares(r, "publisher"))


def lost_cell(r: dict[str, Any]) -> str:
    text = f"{r['lost']:,} / {r['duplicated']:,}"
    if r["dropped"] or r["not_flushed"]:
        text += f" ({r['dropped']:,} dropped)"
    return text


@dataclass
class Row:
    title: str
    cell: Callable[[dict[str, Any]], str]


def cpu_rows(key: str) -> list[Row]:
    return [
        Row("    CPU, % of a core: publisher(s)", lambda m: numbers(shares(m[key], "publisher"))),
        Row("      workers", lambda m: numbers(shares(m[key], "worker"))),
        Row("      redis-server(s)", lambda m: redis_shares(m[key])),
        Row(
            "      CPU us per publish: publishers, workers, redis",
            lambda m: " / ".join(
                number(m[key]["us_per_publish"][group], ".1f") for group in ("publisher", "worker", "redis")
            ),
        ),
        Row(
            "      machine, cores busy (others')",
            lambda m: f"{m[key]['machine']:.2f} ({others(m[key]):.2f})",
        ),
        Row("    bytes received per publish, each worker", lambda m: numbers(m[key]["worker_bytes_per_publish"])),
        Row("      per publish to its channels", lambda m: numbers(m[key]["worker_bytes_per_own_publish"])),
        Row("      publisher(s), per publish", lambda m: numbers(m[key]["publisher_bytes_per_publish"])),
    ]


def rate_cell(m: dict[str, Any]) -> str:
    r = m["max"]
    if r["lost"]:
        return f"({number(r['rate'])}, lost)"
    return number(r["rate"]) + ("*" if publisher_bound(r) else "")


ROWS = [
    Row("max rate: publishes/s made by the publishers", lambda m: number(m["max"]["offered_rate"])),
    Row("  publishes/s delivered end to end", rate_cell),
    Row("  deliveries/s to members, all workers", lambda m: number(m["max"]["deliveries_rate"])),
    Row("  deliveries lost / duplicated", lambda m: lost_cell(m["max"])),
    Row(
        "  latency p50 / p99 (queueing), ms",
        lambda m: f"{number(m['max']['p50_ms'], '.1f')} / {number(m['max']['p99_ms'], '.1f')}",
    ),
    *cpu_rows("max"),
    Row("paced: publishes/s made", lambda m: number(m["paced"]["offered_rate"])),
    Row(
        "  latency p50 / p99 / max, ms",
        lambda m: " / ".join(number(m["paced"][k], ".2f") for k in ("p50_ms", "p99_ms", "max_ms")),
    ),
    Row("  deliveries lost / duplicated", lambda m: lost_cell(m["paced"])),
    *cpu_rows("paced"),
]


def header(args: argparse.Namespace) -> list[str]:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    held = min(args.channels, args.workers * args.per_worker)
    return [
        f"Channels through Redis, {now}; nproc {os.cpu_count()}; Python {platform.python_version()}; "
        f"load average at start {os.getloadavg()[0]:.2f}",
        f"{args.workers} workers x {args.per_worker} channels x {args.members} members; {args.channels} channels "
        f"({held} with members); {args.publishers} publisher process(es); {args.seconds:g} s per measurement; "
        f"paced at {args.rate:,.0f} publishes/s.",
    ]


def table(results: dict[str, dict[str, Any]], args: argparse.Namespace, markdown: bool) -> str:
    modes = list(results)
    cells = {mode: [row.cell(results[mode]) for row in ROWS] for mode in modes}
    lines = header(args) + [""]
    if markdown:
        lines.append("| | " + " | ".join(modes) + " |")
        lines.append("|---|" + "---:|" * len(modes))
        for i, row in enumerate(ROWS):
            title = "&nbsp;" * (len(row.title) - len(row.title.lstrip())) + row.title.strip()
            lines.append(f"| {title} | " + " | ".join(cells[mode][i] for mode in modes) + " |")
    else:
        title_width = max(len(row.title) for row in ROWS)
        widths = {mode: max(len(mode), *(len(c) for c in cells[mode])) for mode in modes}
        lines.append(" " * title_width + "".join(f"  {mode:>{widths[mode]}}" for mode in modes))
        for i, row in enumerate(ROWS):
            lines.append(f"{row.title:{title_width}}" + "".join(f"  {cells[m][i]:>{widths[m]}}" for m in modes))
    lines += notes(results)
    return "\n".join(lines)


def others(r: dict[str, Any]) -> float:
    """Cores busy with processes other than ours during a measurement (noise)."""
    return max(0.0, float(r["machine"]) - sum(float(share) for share in r["cpu"].values()))


def bound_by(r: dict[str, Any]) -> str:
    """What was at its limit during a max-rate measurement, in words."""
    cores = os.cpu_count() or 1
    said = [f"{name} at {100 * share:.0f}% of a core" for name, share in r["cpu"].items() if share >= PUBLISHER_BOUND]
    if r["machine"] >= 0.9 * cores:
        said.insert(0, f"the machine's {cores} cores ({r['machine']:.2f} busy, {others(r):.2f} by other processes)")
    if said:
        return "; ".join(said)
    return (
        f"no process at a core's limit and {cores - r['machine']:.2f} cores idle: the publishers wait on Redis "
        "round trips (more --publishers)"
    )


def notes(results: dict[str, dict[str, Any]]) -> list[str]:
    out = [
        "",
        "CPU: % of one core over the measurement (the publishing and every delivery arriving), in process order; "
        f"the machine's {os.cpu_count()} cores are shared by all of them; per publish, each kind's CPU time in all "
        "over the publishes made (less sensitive to other processes than the rates). Bytes: TCP bytes each "
        "process received from Redis (RESP framing included) over the publishes made in all, and over the "
        "publishes to its own channels.",
    ]
    bound = [mode for mode, r in results.items() if publisher_bound(r["max"])]
    out.append(
        f"* a publisher used over {PUBLISHER_BOUND:.0%} of a core: the max rate may be the load generator's "
        "(try more --publishers)" + (f"; here: {', '.join(bound)}." if bound else "; none here.")
    )
    out += [f"What bounded the max rate, {mode}: {bound_by(r['max'])}." for mode, r in results.items()]
    noisy = [others(r[key]) for r in results.values() for key in ("max", "paced")]
    if max(noisy) > 0.3:
        out.append(
            f"WARNING: other processes kept up to {max(noisy):.1f} cores busy during some measurements; rates and "
            "latencies suffer (bytes per publish hold)."
        )
    for mode, r in results.items():
        if "redis" in r and len(r["redis"]) > 1:
            out.append(f"{mode}: m = the masters, r = their replicas ({', '.join(r['redis'])}).")
        for key in ("max", "paced"):
            m = r[key]
            if m["lost"] or m["duplicated"] or m["dropped"] or m["not_flushed"]:
                out.append(
                    f"{mode} {key}: {m['lost']:,} deliveries lost, {m['duplicated']:,} duplicated of "
                    f"{m['expected']:,} expected; {m['dropped']:,} publishes dropped by a publisher's backend, "
                    f"{m['not_flushed']} flush(es) timed out."
                )
            if m["sockets_closed"]:
                closed = ", ".join(f"{name} {n}" for name, n in m["sockets_closed"].items())
                out.append(
                    f"{mode} {key}: Redis connections closed meanwhile ({closed}): what they received "
                    "before is missing from the bytes."
                )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated, of: " + ", ".join(MODES))
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement (default 3)")
    parser.add_argument("--rate", type=float, default=1000.0, help="publishes/s of the paced measurement, in all")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes (default 2)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--per-worker", type=int, default=10, help="channels with members on each worker")
    parser.add_argument("--members", type=int, default=10, help="members per channel on a worker")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        parser.error(f"--modes takes {', '.join(MODES)}; got {args.modes!r}")
    if min(args.workers, args.publishers, args.channels, args.per_worker, args.members) < 1 or args.rate <= 0:
        parser.error("--workers, --publishers, --channels, --per-worker, --members and --rate must be positive")

    started = perf()
    results = {mode: run_mode(mode, args) for mode in modes}
    print(table(results, args, args.markdown))
    print(f"\n(total {perf() - started:.0f} s)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"header": header(args), "args": vars(args), "modes": results}, out, indent=2)


if __name__ == "__main__":
    main()
