"""Several rounds of a scenario letter, the servers taking turns, summed up as one result per server.

One machine's figures move by 10-30 % within a minute, and a ratio compares
two figures measured seconds apart, so one disturbed figure turns one
ratio. With ``bench.py --interleave --rounds N`` each letter runs N times,
the servers' order reversed every other round (ours first, then theirs
first: neither always runs after the other's closed sockets), and each of
a server's figures is the median of its N rounds. The rounds themselves
are kept in the JSON (``rounds``), so every median can be checked.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

#: A result's figures that are not medians: the generator's share of its core
#: is the highest of the rounds (a round that was generator-bound stars the figure).
HIGHEST = frozenset({"client"})


def turns(servers: Sequence[str], round_index: int) -> list[str]:
    """The servers' order in round ``round_index`` (from 0): as given, then reversed, and so on."""
    return list(servers) if round_index % 2 == 0 else list(reversed(servers))


def combine(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One server's results of several rounds of the same letters (``scenarios.run_peer``'s) as one.

    Each scenario's numbers are the medians of the rounds' (the generator's
    share, the highest); a scenario that failed in any round is that
    failure; the rounds are kept under ``rounds``.
    """
    if len(rounds) == 1:
        return dict(rounds[0])
    combined: dict[str, Any] = {}
    keys = [key for key in rounds[0] if key != "server_stderr_tail"]
    for key in keys:
        each = [r.get(key) for r in rounds]
        failed = next((r for r in each if not isinstance(r, dict) or "failed" in r), None)
        if failed is not None:
            combined[key] = failed if isinstance(failed, dict) else {"failed": "missing in a round"}
            continue
        merged = _merge(each)  # type: ignore[arg-type]  # (all dicts: checked above)
        merged["rounds"] = each
        combined[key] = merged
    tails = [r["server_stderr_tail"] for r in rounds if r.get("server_stderr_tail")]
    if tails:
        combined["server_stderr_tail"] = "".join(tails)[-3000:]
    return combined


def _merge(values: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name, first in values[0].items():
        column = [v.get(name) for v in values]
        if isinstance(first, dict):
            merged[name] = _merge([c if isinstance(c, dict) else {} for c in column])
            for inner in HIGHEST & set(merged[name]):
                merged[name][inner] = max(c[inner] for c in column if isinstance(c, dict) and inner in c)
        elif _number(first) and all(_number(c) for c in column):
            merged[name] = statistics.median(column)  # type: ignore[type-var]
        else:
            merged[name] = first
    return merged


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
