"""(g) plain HTTP: wrk against a server's 2-byte answer, 50 keep-alive connections.

wrk (one thread) runs pinned to core 1 after a 1 s warm-up run. Its CPU
share is user+system time over its wall time, from the rusage the kernel
keeps for it (what /proc/PID/stat showed while it ran); the server's is
read from /proc/PID/stat around the run. The answer itself is checked
once before (status 200, body "ok"); wrk counts errors and non-2xx.
"""

from __future__ import annotations

import http.client
import os
import re
import resource
import subprocess

from bench.lib.loadgen import cpu_split, machine_busy, perf
from bench.lib.procs import CLIENT_CORE
from testkit.serverproc import RunningServer

CONNECTIONS = 50
WARMUP = 1.0
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def check_answer(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    if answer.status != 200 or body != b"ok":
        raise RuntimeError(f"expected 200 'ok', got {answer.status} {body[:40]!r}")


def wrk(port: int, seconds: float) -> tuple[str, float, float]:
    """Run wrk; its output, CPU seconds and wall seconds."""
    command = [
        "taskset",
        "-c",
        str(CLIENT_CORE),
        "wrk",
        "-t1",
        f"-c{CONNECTIONS}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "10s",
        f"http://127.0.0.1:{port}/",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = perf()
    done = subprocess.run(command, capture_output=True, timeout=seconds + 60)
    wall = perf() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited {done.returncode}: {done.stderr.decode()[-300:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout.decode(), cpu, wall


def latency_ms(output: str, percent: int) -> float | None:
    match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    return round(float(match.group(1)) * UNITS[match.group(2)], 3) if match else None


def plain_http(server: RunningServer, duration: float) -> dict:
    """Requests per second, latency, CPU of wrk and of the server, errors."""
    check_answer(server.port)
    wrk(server.port, WARMUP)
    (server_before, system_before), (busy0, total0) = cpu_split(server.pid), machine_busy()
    output, wrk_cpu, wall = wrk(server.port, duration)
    server_after, system_after = cpu_split(server.pid)
    server_cpu, server_system = server_after - server_before, system_after - system_before
    busy1, total1 = machine_busy()
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = {}
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        for kind, n in zip(("connect", "read", "write", "timeout"), socket_errors.groups(), strict=True):
            if int(n):
                errors[f"socket {kind} errors"] = int(n)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors["non-2xx answers"] = int(non_2xx.group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return {
        "rate": rate,
        "p50_ms": latency_ms(output, 50),
        "p99_ms": latency_ms(output, 99),
        "samples": requests,
        "cpu_cores": {
            "client": round(wrk_cpu / wall, 3),
            "server": round(server_cpu / wall, 3),
            "machine": round((busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1), 3),
        },
        "server_us_per_op": round(1e6 * server_cpu / max(1, requests), 1),
        "server_system_us_per_op": round(1e6 * server_system / max(1, requests), 1),
        "client_us_per_op": round(1e6 * wrk_cpu / max(1, requests), 1),
        "errors": errors,
        "error_count": sum(errors.values()),
        "generator": {"wrk": "-t1 -c50 --latency"},
    }
