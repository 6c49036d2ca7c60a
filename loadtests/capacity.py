"""Capacity finder: add users step by step until the echo p99 or errors say stop.

    taskset -c 1 locust -f loadtests/capacity.py --headless --host http://127.0.0.1:8081 \
        [WebSocketUser ...] [--p99-ms 100 --step-users 200 --step-seconds 10 \
        --max-users 10000 --server-pid PID]

Every ``--step-seconds`` the shape adds ``--step-users`` users (the user
classes and options of ``sockjs_users.py``; here broadcasts are off unless
``--broadcast-interval`` is given, as their fan-out grows with users
squared). Over the settled part of each step it measures the echo round trip
p99, echo round trips per second and failures. It stops at the first step
whose p99 passes ``--p99-ms`` or that has any failure (or at ``--max-users``),
then prints a table of the steps and the last step that held: concurrent
sessions, and messages per second through the server (each echo is one in
and one out). Also shown per step: the CPU use of locust itself (a generator
above ~90% measures itself, not the server; the verdict says so) and of the
server when ``--server-pid`` names it. ``scripts/loadtest.sh`` has the
simpler fixed-size run.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

from locust import LoadTestShape, events
from sockjs_users import (  # noqa: F401  (locust collects the User classes from this module)
    EventSourceUser,
    WebSocketUser,
    XhrPollingUser,
    XhrStreamingUser,
    options,
)

SETTLE_SECONDS = 3.0  # at least, of each step, left out of its measurement: spawning and connecting
GENERATOR_BUSY = 90.0  # locust CPU % above which the figures are the generator's limit


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("SockJS capacity finder")
    group.add_argument(
        "--p99-ms", type=float, default=100.0, help="stop when a step's echo p99 passes this (default 100)"
    )
    group.add_argument("--step-users", type=int, default=200, help="users added per step (default 200)")
    group.add_argument("--step-seconds", type=float, default=10.0, help="seconds per step (default 10)")
    group.add_argument("--max-users", type=int, default=10000, help="stop here even if all is well (default 10000)")
    group.add_argument("--server-pid", type=int, default=0, help="pid of the server, to show its CPU use per step")
    parser.set_defaults(broadcast_interval=0.0)


class Recorder:
    """Counts what locust reports, from the last ``reset()`` on."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.started = time.perf_counter()
        self.rtts: list[float] = []
        self.broadcasts = 0
        self.failures: dict[str, int] = {}

    def on_request(
        self, request_type: str, name: str, response_time: float, exception: BaseException | None = None, **_: Any
    ) -> None:
        if exception is not None:
            key = f"{request_type} {name}"
            self.failures[key] = self.failures.get(key, 0) + 1
        elif request_type == "echo rtt":
            self.rtts.append(response_time)
        elif request_type == "broadcast":
            self.broadcasts += 1


recorder = Recorder()


@events.init.add_listener
def attach(environment: Any, **_: Any) -> None:
    environment.events.request.add_listener(recorder.on_request)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (exact, unlike locust's rounded buckets)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc (None if unavailable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Step:
    """What one step measured."""

    users: int
    sessions: int
    rtt_per_s: float
    messages_per_s: float
    p50_ms: float
    p99_ms: float
    failures: dict[str, int]
    locust_cpu: float
    server_cpu: float | None

    def row(self) -> str:
        server = f"{self.server_cpu:5.0f}%" if self.server_cpu is not None else "    -"
        failed = sum(self.failures.values())
        return (
            f"{self.users:6d} {self.sessions:8d} {self.rtt_per_s:9.0f} {self.messages_per_s:9.0f} "
            f"{self.p50_ms:7.1f} {self.p99_ms:7.1f} {failed:6d} {self.locust_cpu:6.0f}% {server}"
        )


HEADER = " users sessions   rtt/s     msgs/s  p50 ms  p99 ms  fails locust  server"


class CapacityShape(LoadTestShape):
    """Steps of ``--step-users`` users until the echo p99 or errors give out."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[Step] = []
        self.target = 0
        self.step_started: float | None = None
        self.measuring = False
        self.server_cpu_start: float | None = None

    def tick(self) -> tuple[int, float] | None:
        opts = self.runner.environment.parsed_options
        now = time.perf_counter()
        if self.step_started is None:
            self._next_step(opts, now)
        elapsed = now - self.step_started
        if not self.measuring and elapsed >= self._settle(opts):
            self.measuring = True
            recorder.reset()
            self.server_cpu_start = cpu_seconds(opts.server_pid) if opts.server_pid else None
        if elapsed >= opts.step_seconds:
            step = self._measure(opts)
            self.steps.append(step)
            print(("\n" + HEADER + "\n" if len(self.steps) == 1 else "") + step.row(), flush=True)
            verdict = self._verdict(opts, step)
            if verdict:
                self._report(verdict)
                return None
            self._next_step(opts, now)
        return self.target, self._spawn_rate(opts)

    @staticmethod
    def _spawn_rate(opts: Any) -> float:
        return min(100.0, max(1.0, opts.step_users / 2))  # locust warns above 100/s

    def _settle(self, opts: Any) -> float:
        """Seconds of a step spent spawning and settling, before measuring."""
        spawning = opts.step_users / self._spawn_rate(opts) + 1
        return min(max(SETTLE_SECONDS, spawning), opts.step_seconds / 2)

    def _next_step(self, opts: Any, now: float) -> None:
        self.target += opts.step_users
        self.step_started = now
        self.measuring = False

    def _measure(self, opts: Any) -> Step:
        seconds = max(1e-6, time.perf_counter() - recorder.started)
        sockjs = options(self.runner.environment)
        users = self.runner.user_count
        per_user = 2 if sockjs.broadcast_interval > 0 else 1
        rtt_per_s = len(recorder.rtts) / seconds
        publishes = users / sockjs.broadcast_interval if sockjs.broadcast_interval > 0 else 0.0
        server_cpu = None
        if self.server_cpu_start is not None:
            end = cpu_seconds(opts.server_pid)
            if end is not None:
                server_cpu = 100 * (end - self.server_cpu_start) / seconds
        return Step(
            users=users,
            sessions=users * per_user,
            rtt_per_s=rtt_per_s,
            messages_per_s=2 * rtt_per_s + publishes + recorder.broadcasts / seconds,
            p50_ms=percentile(recorder.rtts, 0.50),
            p99_ms=percentile(recorder.rtts, 0.99),
            failures=dict(recorder.failures),
            locust_cpu=self.runner.current_cpu_usage,
            server_cpu=server_cpu,
        )

    def _verdict(self, opts: Any, step: Step) -> str:
        if step.failures:
            return f"failures at {step.users} users: {step.failures}"
        if not step.p99_ms <= opts.p99_ms:
            return f"echo p99 {step.p99_ms:.1f} ms > {opts.p99_ms:g} ms at {step.users} users"
        if step.users >= opts.max_users:
            return f"reached --max-users {opts.max_users} with p99 {step.p99_ms:.1f} ms"
        return ""

    def _report(self, verdict: str) -> None:
        last = self.steps[-1]
        held = [s for s in self.steps[:-1]] if (last.failures or not last.p99_ms <= self._limit()) else self.steps
        lines = ["", f"capacity: stopped: {verdict}"]
        if held:
            best = held[-1]
            lines.append(
                f"capacity: held {best.users} users = {best.sessions} concurrent sessions, "
                f"{best.rtt_per_s:.0f} echo round trips/s = {best.messages_per_s:.0f} messages/s "
                f"(p50 {best.p50_ms:.1f} ms, p99 {best.p99_ms:.1f} ms)"
            )
            busy = max(s.locust_cpu for s in self.steps)
            if busy >= GENERATOR_BUSY:
                lines.append(
                    f"capacity: locust reached {busy:.0f}% CPU: the load generator, not the server, "
                    "may be the limit; use more locust workers (--processes) or another machine"
                )
        else:
            lines.append("capacity: not even the first step held")
        print("\n".join(lines), flush=True)

    def _limit(self) -> float:
        return self.runner.environment.parsed_options.p99_ms
