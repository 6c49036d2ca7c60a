"""The Python cost of a request, with no kernel and no load generator: what a change to the code changes.

    .venv/bin/python bench/inprocess.py [--scenario plain|post|polling|wsopen|all] [--count N] [--runs 5]
        [--instructions]

One ``HttpConnection`` serves requests from a socket stand-in that hands it
the same request bytes again and again and takes its answers (no system
call, no waiting: the connection's waits return at once), so the figure is
the Python work of the HTTP server and the app alone, the part of a
request that a change in this repository can cut:

- ``plain``: ``GET /`` answered by a 2-byte WSGI app (the bench's plain-HTTP row);
- ``post``: an xhr_send-shaped POST with a 9-byte body, answered by the same app;
- ``polling``: an xhr-polling echo round trip through ``Router`` and ``SockJS``:
  the POST to ``xhr_send``, the echo handler's turn (its greenlet runs, as the
  event loop would run it before the poll arrives), the POST to ``xhr``;
- ``wsopen``: a websocket session opened (the 101 and ``o``), then closed by
  its client's close frame, as row (c) does; the one scenario over real
  sockets (a socketpair each, the client's end a gevent socket), since the
  socket is handed over to the event loop. It counts the client's side and
  the loop's turns too (but not the accept, which no scenario has).

Prints microseconds per operation (the best of ``--runs``, each of
``--count`` operations). Timings move with whatever else runs on the
machine; ``--instructions`` counts instead the CPU instructions per
operation under valgrind's callgrind (the difference between a run of
``--count`` and one of 3 x ``--count`` operations, so start-up cancels
out): the same on every run of the same code and Python, whatever else the
machine does, so two commits compare exactly (``PYTHONHASHSEED=0``; slow,
about a minute a scenario). To compare commits, run a copy of this file in
each checkout (it imports the package of the checkout it is in).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import gevent
from gevent import socket as gevent_socket

sys.path.insert(
    0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)  # the repository root, for `python bench/inprocess.py`

from sockjs_gevent import Router, SockJS
from sockjs_gevent.http import sockio
from sockjs_gevent.http.config import HttpConfig
from sockjs_gevent.http.connection import HttpConnection
from sockjs_gevent.http.environ import base_environ
from sockjs_gevent.server import untrack_greenlet_tree

SCENARIOS = ("plain", "post", "polling", "wsopen")
HOST = "127.0.0.1:8080"


def post(path: str, body: bytes = b"") -> bytes:
    """A request as the bench's Node generator sends it (bench/node/clients.js ``postRequest``)."""
    head = f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n"
    if body:
        head += "Content-Type: text/plain;charset=UTF-8\r\n"
    return head.encode("latin-1") + b"\r\n" + body


class Stand:
    """The socket stand-in: ``recv`` gives the next request of the script, ``send`` counts answers."""

    def __init__(self, script: Callable[[int], bytes], requests: int) -> None:
        self.script = script
        self.requests = requests
        self.given = 0
        self.answers = 0
        self.last = b""

    def recv(self, size: int) -> bytes:
        if self.given >= self.requests:
            return b""  # the end of the stream: the connection ends
        self.given += 1
        return self.script(self.given)

    def send(self, data: Any) -> int:
        self.answers += 1
        self.last = bytes(data)
        return len(data)

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


class Server:
    """What an ``HttpConnection`` reads of its server (its config and base environ made once, as a server's are)."""

    access_log = None
    handoff = None
    handoff_index = 0
    draining = False
    config = HttpConfig()
    base_environ = base_environ("127.0.0.1", 8080, False)

    def __init__(self, app: Callable[..., Any]) -> None:
        self.application = app
        self.idle: set[Any] = set()


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def echo(conn: Any) -> None:
    for message in conn:
        conn.send(message)


def serve(app: Callable[..., Any], script: Callable[[int], bytes], requests: int) -> Stand:
    """One connection serving ``requests`` requests of ``script``; returns the stand-in, its answers counted."""
    stand = Stand(script, requests)
    HttpConnection(Server(app), stand, ("127.0.0.1", 5555), False).run()  # type: ignore[arg-type]
    if stand.answers != requests:
        raise SystemExit(f"{stand.answers} answers to {requests} requests; the last: {stand.last[:200]!r}")
    return stand


def plain(count: int) -> None:
    request = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode("latin-1")
    serve(hello, lambda i: request, count)


def post_only(count: int) -> None:
    request = post("/echo/0/s/xhr_send", b'["hello"]')
    serve(hello, lambda i: request, count)


_sessions = iter(range(10**9))


def polling(count: int) -> None:
    """``count`` round trips on a new session: its opening poll, then xhr_send + xhr each."""
    prefix = f"/echo/0/s{next(_sessions)}"
    send, poll = post(prefix + "/xhr_send", b'["hello"]'), post(prefix + "/xhr")

    def script(i: int) -> bytes:
        if i == 1 or i % 2:  # the opening poll, then every other request
            if i > 1:
                gevent.sleep(0)  # the handler's turn: it echoes what the send delivered
            return poll
        return send

    stand = serve(POLLING_APP, script, 2 * count + 1)
    if not stand.last.endswith(b'a["hello"]\n'):
        raise SystemExit(f"the last poll did not bring the echo: {stand.last[-200:]!r}")


POLLING_APP = Router([SockJS(echo, "/echo")])

#: A websocket open as the bench's Node generator sends it (bench/node/clients.js ``openWs``).
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
#: The client's close frame (masked, code 1000), as a browser ends a session.
CLOSE_FRAME = bytes([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xE8 ^ 2])


def wsopen(count: int) -> None:
    """``count`` websocket sessions, each opened, sent ``o``, closed by its client: row (c)'s operation.

    The one scenario over real sockets (a socketpair per session; no TCP
    and no generator): the socket is handed over to the event loop, which
    reads the close frame, so the loop's own turns are in the figure.
    """
    for _ in range(count):
        ours, server_side = socket.socketpair()
        client = gevent_socket.socket(fileno=ours.detach())  # (its waits let the event loop run)
        try:
            client.sendall(
                f"GET /echo/0/w{next(_sessions)}/websocket HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            server_side.setblocking(False)
            HttpConnection(Server(POLLING_APP), server_side, ("127.0.0.1", 5555), False).run()
            client.sendall(CLOSE_FRAME)
            received = b"".join(iter(partial(client.recv, 4096), b""))  # (up to the server's close)
        finally:
            client.close()
        if not received.startswith(b"HTTP/1.1 101") or b"\r\n\r\n\x81\x01o" not in received:
            raise SystemExit(f"no 101 and o frame: {received[:300]!r}")


RUNNERS: dict[str, Callable[[int], None]] = {"plain": plain, "post": post_only, "polling": polling, "wsopen": wsopen}


def timed(name: str, count: int, runs: int) -> float:
    """The best microseconds per operation of ``runs`` runs."""
    run = RUNNERS[name]
    run(min(count, 1000))  # warm up (caches, the specializing interpreter)
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        run(count)
        best = min(best, time.perf_counter() - started)
    return best / count * 1e6


def instructions(name: str, count: int) -> float:
    """CPU instructions per operation under callgrind (3 x ``count`` less ``count``, start-up cancelled)."""
    totals = []
    for n in (count, 3 * count):
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                sys.executable,
                os.path.abspath(__file__),
                "--scenario",
                name,
                "--count",
                str(n),
                "--runs",
                "1",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
            check=True,
        )
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise SystemExit(f"no instruction count from valgrind: {done.stderr[-500:]}")
        totals.append(int(found.group(1)))
    return (totals[1] - totals[0]) / (2 * count)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=(*SCENARIOS, "all"), default="all")
    parser.add_argument(
        "--count", type=int, default=None, help="operations per run (default 50,000, 5,000 wsopen; counted: 2,000, 500)"
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--instructions", action="store_true", help="count instructions under valgrind instead")
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)  # (one run, no output: --instructions)
    args = parser.parse_args(argv)
    names = SCENARIOS if args.scenario == "all" else (args.scenario,)
    sockio.PlainIO._wait = lambda self, events, deadline, rearm=None: None  # type: ignore[method-assign]
    untrack_greenlet_tree()  # (as serve() and the gunicorn worker do)
    if args.quiet:
        for name in names:
            RUNNERS[name](args.count or 1000)
        return
    for name in names:
        if args.instructions:
            count = args.count or (500 if name == "wsopen" else 2000)  # (an open is 5-10 requests' work)
            print(f"{name:8} {instructions(name, count):>10,.0f} instructions per operation")
        else:
            best = timed(name, args.count or (5000 if name == "wsopen" else 50000), args.runs)
            print(f"{name:8} {best:>10.2f} us per operation (best of {args.runs})")


if __name__ == "__main__":
    main()
