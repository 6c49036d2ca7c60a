"""A plain 2-byte WSGI answer with keep-alive: httptools server vs pywsgi vs Node's http.

    .venv/bin/python bench/http_plain.py [--duration 5] [--connections 50] [--runs 3]

Each server is one process pinned to core 0 (taskset -c 0); the generator,
wrk, is pinned to core 1. Prints requests/s, the ratios of the same run, and
the CPU the generator and the server used (a generator near 100 % of its
core measures itself, not the server). On a machine shared with other work
the servers get less than their core; the server CPU per request is then
the steadier comparison, and is printed too.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(
    0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)  # the repository root, for `python bench/http_plain.py`

from bench.lib.loadgen import cpu_seconds
from bench.lib.procs import CLIENT_CORE, SERVER_CORE, start_pinned

PY_SERVER = r"""
import sys
from gevent import monkey
from sockjs_gevent.server import serve, print_ready

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"OK"]

serve(app, "127.0.0.1", int(sys.argv[2]), server=sys.argv[1], ready=print_ready)
"""

NODE_SERVER = r"""
const http = require("http");
const server = http.createServer((req, res) => {
  res.writeHead(200, {"Content-Type": "text/plain", "Content-Length": "2"});
  res.end("OK");
});
server.listen(+process.argv[2], "127.0.0.1", () => {
  console.log("listening on http://127.0.0.1:" + server.address().port);
});
"""


def wrk(port: int, duration: float, connections: int) -> tuple[float, float]:
    cmd = [
        "taskset",
        "-c",
        str(CLIENT_CORE),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"http://127.0.0.1:{port}/",
    ]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = process.communicate()
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(out)
    return float(match.group(1)), 0.0


def measure(name: str, cmd: list[str], duration: float, connections: int) -> dict:
    with start_pinned(cmd[1:], SERVER_CORE, program=cmd[:1]) as server:
        port = server.port
        wrk(port, 1.0, connections)  # warm up
        before_server = cpu_seconds(server.pid)
        started = time.monotonic()
        children_before = os.times()
        rps, _ = wrk(port, duration, connections)
        children_after = os.times()
        elapsed = time.monotonic() - started
        server_cpu = (cpu_seconds(server.pid) - before_server) / elapsed
        gen_cpu = (
            (children_after.children_user - children_before.children_user)
            + (children_after.children_system - children_before.children_system)
        ) / elapsed
        return {
            "name": name,
            "rps": rps,
            "server_cpu": server_cpu,
            "gen_cpu": gen_cpu,
            "us_per_request": server_cpu / rps * 1e6 if rps else float("nan"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=0, help="the servers' port (default 0: a free one)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")
    tmp = tempfile.mkdtemp()
    py = os.path.join(tmp, "plain.py")
    js = os.path.join(tmp, "plain.js")
    with open(py, "w") as f:
        f.write(PY_SERVER)
    with open(js, "w") as f:
        f.write(NODE_SERVER)
    env_python = sys.executable
    servers = [
        ("httptools", [env_python, py, "httptools", str(args.port)]),
        ("pywsgi", [env_python, py, "pywsgi", str(args.port)]),
        ("node", ["node", js, str(args.port)]),
    ]
    print(
        f"{args.connections} connections, {args.duration:g} s per server, wrk on core 1, servers on core 0", flush=True
    )
    for run in range(1, args.runs + 1):
        results = {name: measure(name, cmd, args.duration, args.connections) for name, cmd in servers}
        ours = results["httptools"]["rps"]
        line = [f"run {run}:"]
        for name, r in results.items():
            line.append(
                f"{name:9} {r['rps']:>8,.0f} req/s  server CPU {r['server_cpu']:4.0%} "
                f"({r['us_per_request']:5.1f} us/request)  wrk CPU {r['gen_cpu']:4.0%}"
            )
        print("  " + "\n    ".join(line))
        cost = {name: r["us_per_request"] for name, r in results.items()}
        print(
            f"    req/s ratios: httptools/pywsgi {ours / results['pywsgi']['rps']:.2f}, "
            f"httptools/node {ours / results['node']['rps']:.2f}"
        )
        print(
            f"    CPU-per-request ratios (robust on a busy machine): pywsgi/httptools "
            f"{cost['pywsgi'] / cost['httptools']:.2f}, node/httptools {cost['node'] / cost['httptools']:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
