"""Bookkeeping: what the client counts during a run, and the small helpers that print it.

``T`` (errors by kind with one example each, echo and broadcast counts,
heartbeats, sessions open by transport, latencies) and ``B`` (published
broadcast numbers) are one instance per process, shared by the sessions
and the modes.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from .rawclient import now


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
        self.open: Counter[str] = Counter()  # sessions open now, by transport (client view)
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


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100.0))]


def fmt_errors(errors: Counter[str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(errors.items())) or "-"


def verdict(
    problems: int, *, sessions_left: bool, exit_code: int, json_path: str | None, record: dict[str, Any], ok: str = "OK"
) -> int:
    """The end of every mode's report: the server's own problems, the JSON record, the RESULT line.

    ``problems`` are those the mode counted already; returns the exit status.
    """
    if sessions_left:
        print("PROBLEM: the server still holds sessions after they were all closed and expired")
        problems += 1
    if exit_code != 0:
        print(f"PROBLEM: server exit status {exit_code}")
        problems += 1
    if json_path:
        with open(json_path, "w") as f:
            json.dump(record, f, indent=1)
    print("RESULT:", "FAIL" if problems else ok)
    return 1 if problems else 0
