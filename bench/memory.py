"""Where an idle session's bytes go: tracemalloc diffed over N sessions, beside RSS.

    .venv/bin/python bench/memory.py [--sessions 10000] [--transport websocket|xhr-streaming] [--server ...]

Starts the test server (bench/servers/traced_server.py: tracemalloc on) pinned to
core 0, snapshots it, opens N idle sessions on /echo from this process
(raw sockets, core 1), snapshots again, and prints per session: the RSS
growth, the Python allocations tracemalloc saw (by file and line, grouped
into what they are), and the live objects gained by type. RSS minus the
traced bytes is what Python's allocator cannot see: greenlet stacks (the
C stack a blocked greenlet keeps), socket buffers are kernel memory and do
not count. tracemalloc itself slows the server and costs memory, so the
RSS figures here are higher than in bench/bench.py; use them for shares.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import tempfile
import time
import tracemalloc
from collections import Counter, defaultdict

sys.path.insert(
    0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)  # the repository root, for `python bench/memory.py`

from bench.lib.procs import pin_to_client_core, raise_nofile_limit, server_module, start_pinned
from testkit.serverproc import RunningServer

#: What an allocation site is, by the file it is in (first match wins).
GROUPS = [
    (
        "sockjs_gevent: session, inbox, connection",
        (
            "sockjs_gevent/session.py",
            "sockjs_gevent/inbox.py",
            "sockjs_gevent/connection.py",
            "sockjs_gevent/app.py",
            "sockjs_gevent/waiting.py",
        ),
    ),
    (
        "sockjs_gevent: transports and websocket I/O",
        (
            "sockjs_gevent/transports/",
            "sockjs_gevent/websocket/",
            "sockjs_gevent/sockwriter.py",
            "sockjs_gevent/peerwatch.py",
        ),
    ),
    (
        "HTTP server (request, environ, handler)",
        ("sockjs_gevent/http/", "sockjs_gevent/server.py", "pywsgi.py", "sockjs_gevent/pywsgi/"),
    ),
    ("sockjs_gevent: other", ("sockjs_gevent/",)),
    ("websockets engine", ("websockets/",)),
    ("gevent (greenlets, watchers, sockets)", ("gevent/", "greenlet")),
    ("standard library sockets", ("socket.py",)),
]


def group_of(filename: str) -> str:
    for name, needles in GROUPS:
        if any(n in filename for n in needles):
            return name
    return "other: " + filename.rsplit("site-packages/", 1)[-1].rsplit("/sockjs_gevent/", 1)[-1]


def snapshot(server: RunningServer, directory: str, n: int) -> tuple[tracemalloc.Snapshot, Counter]:
    os.kill(server.pid, signal.SIGUSR1)
    done = os.path.join(directory, f"{n}.done")
    deadline = time.monotonic() + 120
    while not os.path.exists(done):  # the server writes it once the dump is complete
        if time.monotonic() > deadline:
            raise SystemExit("the server did not write its snapshot")
        time.sleep(0.05)
    snap = tracemalloc.Snapshot.load(os.path.join(directory, f"{n}.snap"))
    with open(os.path.join(directory, f"{n}.types")) as f:
        return snap, Counter(json.load(f))


def open_websockets(port: int, count: int, sources: int) -> list[socket.socket]:
    """Raw SockJS websockets on /echo, each read up to its 'o' frame."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    socks = []
    for i in range(count):
        s = socket.socket()
        s.bind((f"127.0.0.{2 + i % sources}", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(
            (
                f"GET /echo/000/m{i}/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        data = b""
        while not data.endswith(b"\x81\x01o"):
            data += s.recv(4096)
        socks.append(s)
    return socks


def open_streams(port: int, count: int, sources: int) -> list[socket.socket]:
    """Raw xhr-streaming requests on /echo, each read up to its 'o' frame."""
    socks = []
    for i in range(count):
        s = socket.socket()
        s.bind((f"127.0.0.{2 + i % sources}", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(f"POST /echo/000/m{i}/xhr_streaming HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
        data = b""
        while b"\r\no\n\r\n" not in data:
            data += s.recv(8192)
        socks.append(s)
    return socks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--transport", choices=["websocket", "xhr-streaming"], default="websocket")
    parser.add_argument("--top", type=int, default=12, help="allocation sites to list")
    parser.add_argument("--server-arg", action="append", default=[], help="more testserver arguments")
    args = parser.parse_args()
    raise_nofile_limit()
    pin_to_client_core()
    with tempfile.TemporaryDirectory() as directory:
        server = start_pinned(
            [
                *server_module("traced_server"),
                directory,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--heartbeat-delay",
                "3600",
                *args.server_arg,
            ]
        )
        with server:
            time.sleep(0.5)
            before, types_before = snapshot(server, directory, 0)
            rss_before = server.rss_kb()
            opener = open_websockets if args.transport == "websocket" else open_streams
            started = time.monotonic()
            socks = opener(server.port, args.sessions, max(1, args.sessions // 20_000 + 1))
            opened_in = time.monotonic() - started
            after, types_after = snapshot(server, directory, 1)
            rss_after = server.rss_kb()
            report(args, before, after, types_before, types_after, rss_before, rss_after, opened_in)
            for s in socks:
                s.close()


def report(args, before, after, types_before, types_after, rss_before, rss_after, opened_in) -> None:
    n = args.sessions
    stats = after.compare_to(before, "lineno")
    traced = sum(s.size_diff for s in stats)
    rss = (rss_after - rss_before) * 1024
    print(f"{n} idle {args.transport} sessions opened in {opened_in:.1f} s")
    print(f"RSS growth per session:            {rss / n / 1024:7.2f} KiB")
    print(f"traced Python allocations:         {traced / n / 1024:7.2f} KiB")
    print(f"untraced (greenlet C stacks, allocator slack): {(rss - traced) / n / 1024:7.2f} KiB")
    groups: dict[str, int] = defaultdict(int)
    for stat in stats:
        groups[group_of(stat.traceback[0].filename)] += stat.size_diff
    print("\ntraced bytes per session, by what allocated them:")
    for name, size in sorted(groups.items(), key=lambda kv: -kv[1]):
        if abs(size) / n >= 16:
            print(f"  {size / n:8.0f} B  {name}")
    print(f"\ntop {args.top} allocation sites (bytes per session):")
    for stat in stats[: args.top]:
        frame = stat.traceback[0]
        where = f"{frame.filename.rsplit('/', 2)[-2:]}:{frame.lineno}"
        print(f"  {stat.size_diff / n:8.0f} B  {stat.count_diff / n:5.1f} blocks  {where}")
    gained = {t: types_after[t] - types_before.get(t, 0) for t in types_after}
    print("\nlive objects gained per session, by type:")
    for t, count in sorted(gained.items(), key=lambda kv: -kv[1])[:15]:
        if count / n >= 0.5:
            print(f"  {count / n:5.2f}  {t}")


if __name__ == "__main__":
    main()
