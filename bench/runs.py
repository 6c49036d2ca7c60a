"""Several full runs of bench/bench.py, summed up: each row's ratio to sockjs-node, per run and its spread.

    .venv/bin/python bench/runs.py RUN.json [RUN.json ...] [--markdown]
    .venv/bin/python bench/runs.py --run 5 --out-dir DIR [bench.py options]   # runs them first, --interleave
    .venv/bin/python bench/runs.py --run 5 --out-dir DIR --rounds 3 ...       # each figure the median of 3 rounds

One machine's figures move by 10-30 % between runs of the same code, and
sockjs-node's move as much as ours; a claim is a ratio that holds on every
run. Each ``bench.py --json`` file holds one run of sockjs-gevent beside
sockjs-node; this prints, per row, the ratio of every run (throughput:
ours / sockjs-node, higher is better; server CPU per operation and memory:
ours / sockjs-node, lower is better), their minimum and maximum, and the
absolute figures' ranges. A generator-bound figure (its generator over 80 %
of its core) is starred and left out of the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

sys.path.insert(
    0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)  # the repository root, for `python bench/runs.py`

from bench.lib.table import GENERATOR_BOUND

OURS = "sockjs-gevent"
THEIRS = "sockjs-node"


@dataclass(frozen=True)
class Figure:
    """One row: a scenario's figure, how to read it from a result, and which way is better."""

    title: str
    scenario: str
    read: Callable[[dict], float | None]
    higher_is_better: bool
    spec: str = ",.0f"


def _get(key: str) -> Callable[[dict], float | None]:
    return lambda result: result.get(key)


def throughput(title: str, scenario: str, per: str, cpu_spec: str = ".1f") -> tuple[Figure, ...]:
    """A throughput row's figures: the rate, the server's CPU per operation, and the kernel's part of it.

    The kernel's part (system calls, the loopback TCP stack) is what no
    change in Python can cut.
    """
    return (
        Figure(title, scenario, _get("rate"), True),
        Figure(f"    server CPU us per {per}", scenario, _get("server_us_per_op"), False, cpu_spec),
        Figure("      of it in the kernel", scenario, _get("server_system_us_per_op"), False, ".1f"),
    )


FIGURES = (
    *throughput("(a) websocket echo, round trips/s", "ws_echo", "round trip"),
    *throughput("(b) broadcast 1 -> 1,000, deliveries/s", "broadcast", "delivery"),
    *throughput("(c) websocket sessions opened/s", "ws_opens", "open", ".0f"),
    *throughput("    xhr-streaming sessions opened/s", "xhr_streaming_opens", "open", ".0f"),
    *throughput("(d) xhr-polling echo, round trips/s", "xhr_polling_echo", "round trip"),
    *throughput("    xhr-streaming echo, round trips/s", "xhr_streaming_echo", "round trip"),
    Figure("(e) RSS KiB per idle websocket session", "idle_ws", _get("kb_per_session"), False, ".1f"),
    Figure("    RSS KiB per idle xhr-streaming session", "idle_xhr", _get("kb_per_session"), False, ".1f"),
    *throughput("(g) plain HTTP (vs Node http), requests/s", "http_hello", "request"),
)


def bound(result: dict) -> bool:
    return result.get("cpu_cores", {}).get("client", 0.0) > GENERATOR_BOUND


def cell(run: dict, figure: Figure) -> tuple[float, float, float, bool] | None:
    """(ratio, ours, theirs, starred) of one run, or None where a side is missing."""
    servers = run["servers"]
    ours = servers.get(OURS, {}).get(figure.scenario)
    theirs = servers.get(THEIRS, {}).get(figure.scenario)
    if not isinstance(ours, dict) or not isinstance(theirs, dict):
        return None
    a, b = figure.read(ours), figure.read(theirs)
    if not a or not b:
        return None
    starred = figure.higher_is_better and (bound(ours) or bound(theirs))
    return a / b, a, b, starred


def summary(runs: list[dict], markdown: bool) -> str:
    lines = []
    n = len(runs)
    titles = [f"run {i + 1}" for i in range(n)]
    if markdown:
        lines.append("| row | " + " | ".join(titles) + " | spread (claimed) | sockjs-gevent | sockjs-node |")
        lines.append("|---|" + "---|" * (n + 3))
    else:
        lines.append(f"{'row':44}" + "".join(f"{t:>10}" for t in titles) + f"{'spread':>16}  ours / sockjs-node")
    for figure in FIGURES:
        cells = [cell(run, figure) for run in runs]
        present = [c for c in cells if c is not None]
        if not present:
            continue
        texts = ["-" if c is None else f"{c[0]:.2f}{'*' if c[3] else ''}" for c in cells]
        claimed = [c[0] for c in present if not c[3]]
        spread = f"{min(claimed):.2f}-{max(claimed):.2f}" if claimed else "-"
        ours = f"{min(c[1] for c in present):{figure.spec}}-{max(c[1] for c in present):{figure.spec}}"
        theirs = f"{min(c[2] for c in present):{figure.spec}}-{max(c[2] for c in present):{figure.spec}}"
        if markdown:
            title = "&nbsp;" * (len(figure.title) - len(figure.title.lstrip())) + figure.title.strip()
            lines.append(f"| {title} | " + " | ".join(texts) + f" | {spread} | {ours} | {theirs} |")
        else:
            lines.append(f"{figure.title:44}" + "".join(f"{t:>10}" for t in texts) + f"{spread:>16}  {ours} / {theirs}")
    lines.append("")
    lines.append(
        "Ratios are sockjs-gevent / sockjs-node of the same run: above 1 is ahead for rates, below 1 for CPU "
        "and memory. * generator-bound (over 80 % of its core): not claimed, not in the spread."
    )
    rounds = sorted({run.get("rounds", 1) for run in runs})
    if rounds != [1]:
        counts = ", ".join(map(str, rounds))
        lines.append(
            f"Each figure of a run is the median of its {counts} rounds, sockjs-gevent and sockjs-node taking "
            "turns to go first (bench/lib/rounds.py)."
        )
    return "\n".join(lines)


#: runs.py's own options that take a value; every other argument is a file, or with --run, bench.py's.
_OWN_WITH_VALUE = ("--run", "--out-dir")


def split_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """runs.py's own arguments, and the rest (files; with --run, bench.py's options, values and all).

    So ``--duration 5`` reaches bench.py whole: a parser that also takes
    file names would take its 5 for one.
    """
    own: list[str] = []
    rest: list[str] = []
    arguments = iter(argv)
    for argument in arguments:
        if argument in ("--markdown", "-h", "--help"):
            own.append(argument)
        elif argument in _OWN_WITH_VALUE:
            own += [argument, next(arguments, "")]
        elif argument.startswith(tuple(f"{name}=" for name in _OWN_WITH_VALUE)):
            own.append(argument)
        else:
            rest.append(argument)
    return own, rest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s [--markdown] (RUN.json ... | --run N [--out-dir DIR] [bench.py options])",
    )
    parser.add_argument("--markdown", action="store_true", help="a Markdown table (for docs/benchmarks.md)")
    parser.add_argument("--run", type=int, metavar="N", help="run bench.py N times first (its JSON into --out-dir)")
    parser.add_argument("--out-dir", default=".", help="where --run writes run-K.json (default .)")
    own, rest = split_arguments(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(own)
    files: list[str] = [] if args.run else rest
    bench_args = rest if args.run else []
    if not args.run and any(name.startswith("-") for name in files):
        parser.error(f"bench.py options ({' '.join(n for n in files if n.startswith('-'))}) need --run N")
    if args.run:
        os.makedirs(args.out_dir, exist_ok=True)
        bench = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench.py")
        for k in range(1, args.run + 1):
            out = os.path.join(args.out_dir, f"run-{k}.json")
            command = [sys.executable, bench, "--servers", f"{OURS},{THEIRS}", "--interleave", "--json", out]
            command += bench_args
            print(f"run {k}/{args.run}: {' '.join(command[1:])}", file=sys.stderr)
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            files.append(out)
    if not files:
        parser.error("give bench.py --json files, or --run N")
    runs = []
    for path in files:
        with open(path) as handle:
            runs.append(json.load(handle))
    print(summary(runs, args.markdown))


if __name__ == "__main__":
    main()
