#!/usr/bin/env python3
"""Soak the SockJS test server: many sessions for a long time, or many short ones, or many idle ones.

    .venv/bin/python scripts/soak.py                          # 10,000 sessions for 600 s
    .venv/bin/python scripts/soak.py --sessions 1000 --duration 60
    .venv/bin/python scripts/soak.py --cycles 100000          # open/close churn: RSS must stay flat
    .venv/bin/python scripts/soak.py --idle 100000 --duration 300   # idle websocket sessions on one process

Not a CI test: it starts ``python -m sockjs_gevent.testserver`` (one process,
short heartbeat delay so heartbeats really flow) and drives it from this one
gevent process with raw sockets and a minimal client (RFC 6455 framing,
HTTP/1.1 with chunked decoding), cheap enough for 10,000 sessions.

Soak mode: opens N sessions (websocket / xhr-streaming / xhr-polling by
``--mix``, default 80/15/5), most on /echo, ``--broadcast-members`` on
/broadcast. Each echo session sends a message every 10-30 s (random) and
checks it comes back exactly once, in order, within ``--timeout``; every
``--broadcast-interval`` s one member publishes a numbered message that every
member must receive exactly once, in order. Heartbeats are counted, and a
session that hears nothing for 2 heartbeat delays + 5 s is "silent". Every
10 s one line: elapsed, sessions open (client view and server /stats),
server RSS (VmRSS) and fds, messages sent/received, heartbeats, errors by
kind. At the end the sessions are closed, and once the server expired them
a summary: RSS base/after-open/peak/end, RSS per session, errors. Exit
status 1 if there was any error (client-side, server /stats errors before
the shutdown phase, or ERROR/Traceback lines in the server log).

Cycles mode (``--cycles K``): opens and closes K sessions (mixed transports,
``--concurrency`` at a time), each sending one echo, and prints server RSS
every ``--report-every`` cycles; at the end all sessions must have been
freed (server sessions open and registered back to 0) and RSS growth after
the first report must stay under ``--rss-growth-limit`` MB.

Idle mode (``--idle N``): opens N idle websocket sessions on /echo,
``--concurrency`` handshakes at a time, holds them ``--duration`` s while
heartbeats flow, then checks each still hears heartbeats and that
``--idle-echo`` of them (default all) echo a message once, closes them and
checks the server frees them. Reports the open rate, server RSS (base,
after opening, end) and per session, server CPU per heartbeat while idle,
descriptors, and the client's own RSS and CPU, so it can be seen that the
client was not the bound. Open sessions are read by one epoll, not a
greenlet each (see scripts/soaklib/idle.py).

Client sockets connect from 127.0.0.2..127.0.0.(1+--source-ips) so churn
does not exhaust one address's ephemeral ports (idle mode raises
--source-ips to fit N in ip_local_port_range). RLIMIT_NOFILE is raised for
this process and the server (idle mode: to at least N + 1024).
"""

from __future__ import annotations

import argparse
import os
import random
import sys

# The repository root: testkit/, the helpers shared with the tests (this script's own folder is there already).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gevent.subprocess as subprocess
from soaklib import idle
from soaklib.cycles import cycles
from soaklib.rawclient import HOST, Net
from soaklib.serverproc import NOFILE, Server
from soaklib.sessions import parse_mix
from soaklib.soakmode import soak

from testkit.serverproc import ROOT, raise_nofile


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=10_000, help="soak: sessions held open (default 10000)")
    p.add_argument(
        "--duration", type=float, default=600.0, help="soak, idle: seconds to hold them after opening (default 600)"
    )
    p.add_argument(
        "--cycles",
        type=int,
        default=0,
        metavar="K",
        help="cycles mode: open and close K sessions (100000 if given without a number)",
        nargs="?",
        const=100_000,
    )
    p.add_argument(
        "--idle",
        type=int,
        default=0,
        metavar="N",
        nargs="?",
        const=100_000,
        help="idle mode: hold N idle websocket sessions on one server (100000 if given without a number)",
    )
    p.add_argument(
        "--idle-echo",
        type=int,
        default=None,
        metavar="K",
        help="idle: how many sessions must echo a message at the end (default: all of them)",
    )
    p.add_argument(
        "--max-open-errors",
        type=int,
        default=100,
        help="idle: stop opening after this many sessions failed to open (100)",
    )
    p.add_argument(
        "--ignore-limits",
        action="store_true",
        help="idle: open sessions even when RLIMIT_NOFILE is too low for N, to see where it stops",
    )
    p.add_argument(
        "--mix",
        type=parse_mix,
        default=parse_mix("80/15/5"),
        help="websocket/xhr-streaming/xhr-polling weights (80/15/5)",
    )
    p.add_argument("--broadcast-members", type=int, default=200, help="soak: sessions on /broadcast (default 200)")
    p.add_argument("--broadcast-interval", type=float, default=3.0, help="soak: seconds between broadcasts (default 3)")
    p.add_argument("--min-gap", type=float, default=10.0, help="soak: shortest pause between a session's echoes (10 s)")
    p.add_argument("--max-gap", type=float, default=30.0, help="soak: longest pause between a session's echoes (30 s)")
    p.add_argument(
        "--message-size",
        type=int,
        default=160,
        help="bytes per message, padding included (160: xhr-streaming echo sessions then pass /echo's "
        "4 KiB response_limit about once in 600 s, so re-opening is exercised)",
    )
    p.add_argument(
        "--timeout", type=float, default=10.0, help="seconds for an echo/broadcast to arrive, or a cycle to finish (10)"
    )
    p.add_argument(
        "--concurrency", type=int, default=None, help="handshakes at a time (soak, idle 100) / cycles at a time (50)"
    )
    p.add_argument("--heartbeat-delay", type=float, default=5.0, help="server heartbeat delay, s (5)")
    p.add_argument("--disconnect-delay", type=float, default=5.0, help="server disconnect delay, s (5)")
    p.add_argument("--interval", type=float, default=10.0, help="soak, idle: seconds between report lines (10)")
    p.add_argument("--report-every", type=int, default=10_000, help="cycles: report every this many cycles (10000)")
    p.add_argument(
        "--rss-growth-limit",
        type=float,
        default=30.0,
        help="cycles: MB of RSS growth after the first report that fails the run (30)",
    )
    p.add_argument(
        "--source-ips", type=int, default=16, help="connect from 127.0.0.2..127.0.0.(1+N); 0 for 127.0.0.1 only (16)"
    )
    p.add_argument(
        "--nofile", type=int, default=None, help=f"RLIMIT_NOFILE for both processes ({NOFILE}; idle: at least N + 1024)"
    )
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument(
        "--server-root",
        default=ROOT,
        help="directory whose sockjs_gevent the server runs (default: this checkout; e.g. a "
        "`git archive HEAD` snapshot to soak a fixed commit while the tree is being edited)",
    )
    p.add_argument("--server-log", default="/tmp/soak-server.log", help="where the server's output goes")
    p.add_argument("--server-arg", action="append", default=[], help="extra testserver argument (repeatable)")
    p.add_argument("--json", help="also write the rows and counters as JSON here")
    p.add_argument("--seed", type=int, help="random seed")
    args = p.parse_args(argv)
    if args.cycles and args.idle:
        p.error("--cycles and --idle are different modes; give one")
    if args.concurrency is None:
        args.concurrency = 50 if args.cycles else 100
    if args.idle:
        idle.prepare(args)  # sizes --nofile and --source-ips before anything starts
    if args.nofile is None:
        args.nofile = NOFILE
    if args.seed is not None:
        random.seed(args.seed)
    limit = raise_nofile(args.nofile)
    http_share = sum(share for kind, share in args.mix if kind != "ws")  # these also hold an xhr_send connection
    need = int(args.sessions * (1 + http_share)) + 200 if not args.cycles else args.concurrency * 3 + 200
    if args.idle:
        need = args.idle + 200
    if limit < need:
        print(f"warning: RLIMIT_NOFILE is {limit}, this run may need {need}", file=sys.stderr)
    Net.sources = [f"127.0.0.{2 + i}" for i in range(args.source_ips)] or [HOST]
    server = Server(args)
    Net.port = server.port
    check = subprocess.run(
        [sys.executable, "-c", "import sockjs_gevent; print(sockjs_gevent.__file__)"],
        cwd=os.path.abspath(args.server_root),
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.path.abspath(args.server_root)),
    )
    print(f"server code: {check.stdout.strip()}", flush=True)
    try:
        if args.cycles:
            return cycles(args, server)
        if args.idle:
            return idle.idle(args, server)
        return soak(args, server)
    finally:
        if server.proc.poll() is None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
