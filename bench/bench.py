"""sockjs-gevent beside sockjs-node, sockjs-tornado and aiohttp-sockjs: one table.

    bench/peers/install.sh        # once: the peers, the generator's npm packages, wrk
    .venv/bin/python bench/bench.py [--duration 5] [--json out.json]
        [--servers sockjs-gevent,sockjs-node,sockjs-tornado,aiohttp-sockjs,raw]
        [--scenarios a,b,c,d,e,f,g] [--hold 30] [--generator node|python] [--node-flags '--ws ws']
        [--peers-dir bench/.peers] [--interleave [--rounds N]]

Each server runs alone, pinned to core 0 (taskset -c 0); the load
generator, bench/node/loadgen.js, runs on core 1, one Node.js process per
scenario, with lean WebSocket and HTTP/1.1 clients of its own (npm ws and
Node's http client are there too, --node-flags '--ws ws --http node', at
about 1.4 and 2 times the generator's CPU per message). --generator python
runs the older gevent generator in this process instead (it saturates its
core first: compare its CPU per operation, not its rates). Every server serves SockJS /echo and /broadcast
with its default options (bench/servers/sockjs_gevent_server.py,
bench/peers/*_server.*). Scenarios (see scenarios.py):

  a  websocket echo: 100 sessions, one 64-byte message in flight each
  b  broadcast: one sender, 1,000 websocket sessions on /broadcast, one message in flight
  c  sessions opened per second, 50 at a time: websocket; xhr-streaming
  d  echo over xhr-polling and over xhr-streaming, 50 sessions
  e  server RSS per idle session: 5,000 websocket; 2,000 xhr-streaming
  f  10,000 idle websocket sessions held --hold seconds (past the 25 s heartbeat)
  g  plain HTTP: a 2-byte answer to 50 keep-alive connections (wrk), against
     sockjs-gevent's serve() and Node's http.createServer (sockjs-node's column)

--interleave runs scenario by scenario, each server in turn, so the two
figures of a ratio are measured seconds apart; --rounds N (with it) runs
each letter N times, the servers' order reversed every other round, and
gives each figure as the median of its rounds (bench/lib/rounds.py; the
rounds are in the JSON).

Throughput figures are measured for --duration seconds after a 1 s
warm-up, each with the server's CPU per operation and the generator's CPU
share of its core; a figure whose generator passed 80% of it is starred
and not claimed. "raw" (bench/servers/raw_echo_server.py, no SockJS) runs (a)
only. "sockjs-gevent-pywsgi" (serve(..., server="pywsgi")) is listed by
default once serve() has that choice.

The modules, in bench/lib/: lineup.py (the peers), procs.py (starting them
pinned), scenarios.py (what runs where), nodegen.py / pygen.py (the
generators), httpbench.py (wrk), table.py (the table), rounds.py (--rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(
    0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)  # the repository root, for `python bench/bench.py`

from bench.lib import nodegen
from bench.lib.lineup import SCENARIOS, SERVERS, default_servers
from bench.lib.procs import BENCH, pin_to_client_core, raise_nofile_limit
from bench.lib.rounds import combine, turns
from bench.lib.scenarios import HOLD_SESSIONS, Settings, run_peer
from bench.lib.table import header, table


def generator_name(kind: str, flags: str) -> str:
    if kind == "python":
        return "gevent, in this process"
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    with open(nodegen.WS_PACKAGE) as package:
        ws = json.load(package)["version"]
    return f"bench/node/loadgen.js {flags or '(lean clients)'} on Node {node}, ws {ws}"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds measured per throughput figure (default 5)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--servers", help=f"comma-separated, of: {', '.join(SERVERS)} (default: {', '.join(default_servers())})"
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated letters a-g (default all)")
    parser.add_argument(
        "--hold", type=float, default=30.0, help="seconds (f) holds its sessions (default 30: past the 25 s heartbeat)"
    )
    parser.add_argument(
        "--generator", choices=("node", "python"), default="node", help="the load generator (default node)"
    )
    parser.add_argument(
        "--node-flags",
        default="",
        metavar="FLAGS",
        help="more flags for bench/node/loadgen.js, e.g. '--ws ws --http node' (npm ws, Node's http)",
    )
    parser.add_argument(
        "--peers-dir", default=os.path.join(BENCH, ".peers"), help="where bench/peers/install.sh put the peers"
    )
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="run scenario by scenario, each server in turn (a fresh server per scenario letter), instead of "
        "server by server: the two figures of a ratio are then measured seconds apart",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="with --interleave: run each scenario letter N times, the servers' order reversed every other "
        "round, and give each figure as the median of its N rounds (bench/lib/rounds.py; default 1)",
    )
    args = parser.parse_args(argv)
    if not 0.5 <= args.duration <= 60:
        parser.error("--duration must be between 0.5 and 60 seconds")
    if not 1 <= args.rounds <= 9:
        parser.error("--rounds must be between 1 and 9")
    if args.rounds > 1 and not args.interleave:
        parser.error("--rounds takes --interleave (the servers take turns within each round)")
    if not 1 <= args.hold <= 600:
        parser.error("--hold must be between 1 and 600 seconds")
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()] if args.servers else default_servers()
    unknown = [s for s in args.servers if s not in SERVERS]
    if unknown or not args.servers:
        parser.error(f"unknown server(s) {', '.join(unknown)}; choose from {', '.join(SERVERS)}")
    args.scenarios = "".join(s.strip().lower() for s in args.scenarios.split(",") if s.strip())
    if not args.scenarios or set(args.scenarios) - set(SCENARIOS):
        parser.error("--scenarios takes letters a-g, e.g. a,b,e")
    args.peers_dir = os.path.abspath(args.peers_dir)
    missing = [
        n
        for n in args.servers
        if SERVERS[n].needs(args.peers_dir) and not os.path.exists(SERVERS[n].needs(args.peers_dir))
    ]
    if args.generator == "node" and not nodegen.installed():
        missing.append("the Node load generator's ws")
    if "g" in args.scenarios and subprocess.run(["sh", "-c", "command -v wrk"], capture_output=True).returncode:
        missing.append("wrk")
    if missing:
        parser.error(f"{', '.join(missing)} not installed: run bench/peers/install.sh first")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    limit = raise_nofile_limit()
    if limit < HOLD_SESSIONS + 2000 and "f" in args.scenarios:
        print(f"warning: open-file limit {limit} is below what (f) needs", file=sys.stderr)
    pin_to_client_core()  # the generator's core: this process only waits there, unless it is the generator
    generator = generator_name(args.generator, args.node_flags)
    settings = Settings(args.duration, args.hold, args.generator, tuple(args.node_flags.split()))
    started = time.monotonic()
    results: dict = {name: {} for name in args.servers}
    if args.interleave:
        # Scenario by scenario, every server in turn: the figures a ratio
        # compares are measured seconds apart, not a whole column apart,
        # so a neighbour's load that comes and goes skews it less.
        for letter in args.scenarios:
            rounds: dict[str, list[dict]] = {name: [] for name in args.servers}
            for index in range(args.rounds):
                for name in turns(args.servers, index):
                    rounds[name].append(run_peer(SERVERS[name], args.peers_dir, letter, settings))
                    time.sleep(1.0)  # let the closed sockets settle between servers
            for name in args.servers:
                results[name].update(combine(rounds[name]))
    else:
        for name in args.servers:
            results[name] = run_peer(SERVERS[name], args.peers_dir, args.scenarios, settings)
            time.sleep(1.0)
    print(table(results, args.servers, args.duration, args.hold, generator))
    if args.rounds > 1:
        print(f"\nEach figure: the median of {args.rounds} rounds, the servers taking turns (bench/lib/rounds.py).")
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {
                    "header": header(generator=generator),
                    "duration": args.duration,
                    "rounds": args.rounds,
                    "hold": args.hold,
                    "generator": args.generator,
                    "servers": results,
                },
                out,
                indent=2,
            )


if __name__ == "__main__":
    sys.exit(main())
