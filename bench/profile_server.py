"""Profile sockjs-gevent under one load scenario: where the server's time goes.

    .venv/bin/python bench/profile_server.py ws-opens [--duration 5] [--top 30] [--sort tottime]

Runs bench/servers/sockjs_gevent_server.py under cProfile on core 0, drives it with
the Node generator on core 1 (bench/node/loadgen.js; scenarios: ws-echo,
broadcast, ws-opens, xhr-streaming-opens, xhr-polling-echo,
xhr-streaming-echo), stops it with SIGTERM and prints the profile. cProfile
slows the server several times over: read shares, not rates.
"""

from __future__ import annotations

import argparse
import os
import pstats
import sys
import tempfile

sys.path.insert(
    0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)  # the repository root, for `python bench/profile_server.py`

from bench.lib import nodegen
from bench.lib.procs import server_module, start_pinned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--server-arg", action="append", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        out = os.path.join(directory, "profile.out")
        server = start_pinned(["-m", "cProfile", "-o", out, *server_module("sockjs_gevent_server"), *args.server_arg])
        result = nodegen.run(args.scenario, server, args.duration + 10, duration=args.duration)
        server.stop()
        print({k: v for k, v in result.items() if not isinstance(v, (dict, list))})
        stats = pstats.Stats(out)
        stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
