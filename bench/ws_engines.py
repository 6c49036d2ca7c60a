"""Which WebSocket engine under gevent's pywsgi: measured side by side, in one run.

    cd /work/main && .venv/bin/pip install -r bench/requirements.txt   # wsproto, bench-only
    cd /work/main && .venv/bin/python bench/ws_engines.py [--duration 5] [--json out.json]

Engines:
  1. gevent-websocket 0.10.1's WebSocketHandler (bench/servers/gws_server.py)
  2. websockets' sans-I/O ServerProtocol as sockjs_gevent/websocket drives it
     (the test server, and bench/servers/wsengine_echo.py for the bare engine)
  3. wsproto driven the same way (bench/servers/wsproto_echo.py, bare only)

Each server runs alone on core 0, this process on core 1. "SockJS raw echo"
is the test server's /echo/websocket (session layer included); "bare echo"
is the engine with nothing but an echo loop around it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import dataclass
from importlib.metadata import version

import gevent
import websockets
import wsproto  # noqa: F401  (fail early if the comparison cannot run)

sys.path.insert(
    0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)  # the repository root, for `python bench/ws_engines.py`

from bench.lib.loadgen import (
    MAX_ROUNDS,
    MESSAGE,
    ProtocolError,
    WsClient,
    connect,
    open_all,
    perf,
)
from bench.lib.procs import pin_to_client_core, server_module, start_pinned
from bench.lib.pygen import websocket_echo
from bench.lib.table import header, other_load
from testkit.rawhttp import HttpConnection
from testkit.serverproc import RunningServer
from testkit.wsframe import CLOSE, encode, parse_close, upgrade_request

MIB = 1024 * 1024
BIG_TIMEOUT = 60.0
PROBE_SIZE = 2 * MIB  # over the project's 1 MiB default
BAD_KEYS = {"bad padding": "abc", "8 bytes": "AAAAAAAAAAA=", "not base64": "%%%%"}
BACKGROUND_SESSIONS = 20
BIG_REPEATS = 5
TESTSERVER = ["-m", "sockjs_gevent.testserver", "--host", "127.0.0.1", "--port", "0"]


@dataclass
class Engine:
    name: str
    bare_server: list[str]  # server args; its bare echo is at bare_path
    bare_path: str
    sockjs_server: list[str] | None = None  # serves /echo/websocket and /close/websocket via SockJS
    close_path: str = "/close/websocket"


ENGINES = [
    Engine(
        f"gevent-websocket {version('gevent-websocket')}",
        server_module("gws_server"),
        "/bare/websocket",
        sockjs_server=server_module("gws_server"),
    ),
    Engine(
        f"websockets {websockets.version.version} sans-I/O (project)",
        server_module("wsengine_echo"),
        "/echo/websocket",
        sockjs_server=TESTSERVER,
    ),
    Engine(f"wsproto {version('wsproto')}", server_module("wsproto_echo"), "/echo/websocket"),
]


# -- One 1 MiB message, and what the other sessions see meanwhile -------------


def big_message(port: int, path: str, size: int = MIB) -> dict:
    """Echo ``size`` bytes ``BIG_REPEATS`` times while small echoes run on other sessions."""
    small = encode(MESSAGE.encode())
    rounds: list[tuple[float, float]] = []
    deadline = perf() + BIG_TIMEOUT

    def background(ws: WsClient) -> None:
        for _ in range(MAX_ROUNDS):
            sent = perf()
            if sent > deadline:
                return
            ws.send_frame(small)
            ws.read_data()
            rounds.append((sent, perf()))

    others = open_all(BACKGROUND_SESSIONS, lambda i: WsClient(port, path))
    workers = [gevent.spawn(background, ws) for ws in others]
    big = WsClient(port, path, timeout=BIG_TIMEOUT)
    frame = encode(b"x" * size)
    try:
        gevent.sleep(1.0)  # baseline
        windows = []
        for _ in range(BIG_REPEATS):
            started = perf()
            big.send_frame(frame)
            if len(big.read_data()) != size:
                raise ProtocolError("the echo has the wrong size")
            windows.append((started, perf()))
            gevent.sleep(0.3)
    finally:
        gevent.killall(workers, timeout=5)
        for ws in [big, *others]:
            ws.close(wait=False)
    baseline = sorted(done - sent for sent, done in rounds if done < windows[0][0])
    during = [done - sent for sent, done in rounds if any(sent < end and done > start for start, end in windows)]
    return {
        "echo_ms": round(1000 * statistics.median(end - start for start, end in windows), 1),
        "others_p99_before_ms": round(1000 * baseline[int(len(baseline) * 0.99)], 1) if baseline else None,
        "others_worst_during_ms": round(1000 * max(during), 1) if during else None,
        "others_rounds_during": len(during),
    }


# -- Correctness checks -------------------------------------------------------


def close_check(port: int, path: str) -> str:
    """What the client sees when the server closes with 3000 "Go away!"."""
    ws = WsClient(port, path)
    try:
        for _ in range(10):
            opcode, payload = ws.read()
            if opcode == CLOSE:
                code, reason = parse_close(payload)
                return f"{code} {reason!r}" + ("" if (code, reason) == (3000, "Go away!") else f" (raw {payload!r})")
        return "no close frame"
    finally:
        ws.close(wait=False)


def bad_key_statuses(server: RunningServer, path: str) -> dict[str, str]:
    """The HTTP status answered to each malformed Sec-WebSocket-Key ("+exc": the server logged a traceback)."""
    statuses = {}
    for name, key in BAD_KEYS.items():
        logged = server.log().count("Traceback")
        sock = connect(server.port)
        try:
            sock.sendall(upgrade_request(path, key=key))
            answer = str(HttpConnection(sock).read_head().status)
        except (EOFError, OSError) as exc:
            answer = f"no answer ({type(exc).__name__})"
        finally:
            sock.close()
        gevent.sleep(0.2)  # let the server finish (and log) the request
        statuses[name] = answer + ("+exc" if server.log().count("Traceback") > logged else "")
    return statuses


def size_probe(port: int, path: str, size: int = PROBE_SIZE) -> str:
    """Send one ``size``-byte message: is it refused (1009) or echoed?"""
    ws = WsClient(port, path, timeout=BIG_TIMEOUT)
    try:
        started = perf()
        ws.send_frame(encode(b"y" * size))
        for _ in range(10):
            opcode, payload = ws.read()
            if opcode == CLOSE:
                code, reason = parse_close(payload)
                return f"enforced: {size // MIB} MiB -> close {code}"
            if len(payload) == size:
                return f"none: {size // MIB} MiB echoed ({perf() - started:.1f} s)"
        return "no answer"
    except (EOFError, OSError) as exc:
        return f"connection dropped ({type(exc).__name__})"
    finally:
        ws.close(wait=False)


# -- Running ------------------------------------------------------------------


def measure_engine(engine: Engine, duration: float) -> dict:
    result: dict = {"engine": engine.name}
    if engine.sockjs_server:
        with start_pinned(engine.sockjs_server) as server:
            result["sockjs_echo"] = websocket_echo(server, "/echo/websocket", False, 100, duration)
            result["close"] = close_check(server.port, engine.close_path)
            result["bad_keys"] = bad_key_statuses(server, "/echo/websocket")
            result["max_size"] = size_probe(server.port, "/echo/websocket")
            result["server_errors"] = tracebacks(server.log())
    with start_pinned(engine.bare_server) as server:
        result["bare_echo"] = websocket_echo(server, engine.bare_path, False, 100, duration)
        result["big"] = big_message(server.port, engine.bare_path)
        if not engine.sockjs_server:
            result["close"] = close_check(server.port, engine.close_path)
            result["bad_keys"] = bad_key_statuses(server, engine.bare_path)
            result["max_size"] = size_probe(server.port, engine.bare_path)
            result["server_errors"] = tracebacks(server.log())
    return result


def tracebacks(log: str) -> list[str]:
    """The last line of each traceback the server logged (the exception)."""
    lines = log.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            tail = next((later for later in lines[i + 1 :] if later and not later.startswith(" ")), "?")
            if tail not in found:
                found.append(tail)
    return found


def rate_cell(r: dict | None) -> str:
    if not r:
        return "n/a"
    return f"{r['rate']:,.0f}/s, {r['server_us_per_op']:.0f} us"


def table(results: list[dict], duration: float) -> str:
    lines = [
        header("WebSocket engines under gevent's pywsgi"),
        f"100 sessions x one 64 B message in flight, {duration:g} s each; 'us' = server CPU per message."
        " 1 MiB: median of 5 echoes on one session while 20 others echo 64 B.",
        "",
    ]
    cols = [
        ("engine", lambda r: r["engine"]),
        ("SockJS raw echo", lambda r: rate_cell(r.get("sockjs_echo"))),
        ("bare echo", lambda r: rate_cell(r["bare_echo"])),
        ("1 MiB echo", lambda r: f"{r['big']['echo_ms']:.0f} ms"),
        (
            "others meanwhile",
            lambda r: f"worst {r['big']['others_worst_during_ms']} ms (p99 before {r['big']['others_p99_before_ms']})",
        ),
        ("server close 3000", lambda r: r["close"]),
        ("malformed key", lambda r: "/".join(str(v) for v in r["bad_keys"].values())),
        ("max message size", lambda r: r["max_size"]),
    ]
    for title, cell in cols:
        lines.append(f"{title:18}" + "".join(f" | {cell(r):38}" for r in results))
    lines.append(f"{'':18}  (malformed keys, in order: {', '.join(f'{k} {v!r}' for k, v in BAD_KEYS.items())})")
    noisy = [o for r in results for o in (other_load(r["bare_echo"]),) if o is not None and o > 0.3]
    if noisy:
        lines.append(
            f"WARNING: other processes used up to {max(noisy):.1f} cores during the runs; "
            "rates are low, CPU us/msg still hold."
        )
    for r in results:
        if r.get("server_errors"):
            lines.append(f"server errors logged by {r['engine']}: {'; '.join(r['server_errors'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per throughput figure (default 5)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if not 0.5 <= args.duration <= 60:
        parser.error("--duration must be between 0.5 and 60 seconds")
    pin_to_client_core()
    started = perf()
    results = [measure_engine(engine, args.duration) for engine in ENGINES]
    print(table(results, args.duration))
    print(f"\n(total {perf() - started:.0f} s)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"header": header("WebSocket engines under gevent's pywsgi"), "engines": results}, out, indent=2)


if __name__ == "__main__":
    sys.exit(main())
