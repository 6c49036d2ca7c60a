"""Profile sockjs-gevent under one load scenario: where the server's time goes.

    .venv/bin/python bench/profile_server.py ws-opens [--duration 5] [--top 30]
        [--profiler cprofile|py-spy] [--sort tottime|cumulative] [--server-arg ARG ...]

Runs bench/servers/sockjs_gevent_server.py on core 0, drives it with the
Node generator on core 1 (bench/node/loadgen.js; scenarios: ws-echo,
broadcast, ws-opens, xhr-streaming-opens, xhr-polling-echo,
xhr-streaming-echo) and prints where the server spent its time.

``--profiler cprofile`` (the default) runs the server under cProfile: exact
call counts, but the profiler slows the server several times over and
weighs small Python functions most, so read shares, not rates.
``--profiler py-spy`` samples the running server from outside (py-spy,
``pip install py-spy``; 1,000 samples/s, not pausing it), so the rate and
the shares are the server's own: it prints the share of samples in each
function itself (self) and under it (inclusive); time in C code (system
calls, extensions) counts as the Python function that called it.
"""

from __future__ import annotations

import argparse
import collections
import os
import pstats
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(
    0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)  # the repository root, for `python bench/profile_server.py`

from bench.lib import nodegen
from bench.lib.procs import server_module, start_pinned

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def short(frame: str) -> str:
    """``function (path:line)`` from py-spy's raw frame, the path relative to the repository or site-packages."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    if path.startswith(ROOT + os.sep):
        path = os.path.relpath(path, ROOT)
    elif "site-packages" + os.sep in path:
        path = path.split("site-packages" + os.sep, 1)[1]
    else:
        path = os.path.basename(path)
    return f"{name} ({path})"


def spy_table(raw: str, top: int) -> str:
    """Self and inclusive sample shares per function from py-spy's ``--format raw`` (collapsed stacks)."""
    own: collections.Counter[str] = collections.Counter()
    under: collections.Counter[str] = collections.Counter()
    total = 0
    with open(raw) as lines:
        for line in lines:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [short(f) for f in stack.split(";") if f]
            if not frames:
                continue
            total += count
            own[frames[-1]] += count
            for frame in set(frames):
                under[frame] += count
    if not total:
        return "no samples"
    out = [f"{total} samples", "", f"{'self %':>7} {'incl %':>7}  function (file)"]
    for frame, count in own.most_common(top):
        out.append(f"{100 * count / total:7.1f} {100 * under[frame] / total:7.1f}  {frame}")
    out += ["", f"{'incl %':>7}  function (file), by inclusive share"]
    for frame, count in under.most_common(top):
        out.append(f"{100 * count / total:7.1f}  {frame}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--profiler", default="cprofile", choices=["cprofile", "py-spy"])
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"], help="cProfile's order")
    parser.add_argument("--server-arg", action="append", default=[])
    args = parser.parse_args()
    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if args.profiler == "py-spy" and not os.path.exists(spy):
        parser.error("py-spy is not installed: .venv/bin/pip install py-spy")
    with tempfile.TemporaryDirectory() as directory:
        out = os.path.join(directory, "profile.out")
        if args.profiler == "cprofile":
            server = start_pinned(
                ["-m", "cProfile", "-o", out, *server_module("sockjs_gevent_server"), *args.server_arg]
            )
            result = nodegen.run(args.scenario, server, args.duration + 10, duration=args.duration)
            server.stop()
        else:
            server = start_pinned([*server_module("sockjs_gevent_server"), *args.server_arg])
            sampler = subprocess.Popen(
                [spy, "record", "--pid", str(server.pid), "--rate", "1000", "--nonblocking"]
                + ["--format", "raw", "--output", out, "--duration", str(int(args.duration + 2))],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            result = nodegen.run(args.scenario, server, args.duration + 10, duration=args.duration)
            _, errors = sampler.communicate(timeout=30)
            server.stop()
            if not os.path.exists(out):
                sys.exit(f"py-spy wrote no profile: {errors.decode(errors='replace')[-500:]}")
        print({k: v for k, v in result.items() if not isinstance(v, (dict, list))})
        if args.profiler == "cprofile":
            stats = pstats.Stats(out)
            stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)
        else:
            print(spy_table(out, args.top))


if __name__ == "__main__":
    main()
