"""The scenarios, and running them against one server.

  a  websocket echo: 100 sessions, one 64-byte message in flight each
  b  broadcast: one sender, 1,000 websocket sessions on /broadcast, one message in flight
  c  sessions opened per second, 50 at a time: websocket; xhr-streaming
  d  echo over xhr-polling and over xhr-streaming, 50 sessions
  e  server RSS per idle session: 5,000 websocket; 2,000 xhr-streaming
  f  10,000 idle websocket sessions held --hold seconds (past the 25 s heartbeat)
  g  plain HTTP: a 2-byte answer, 50 keep-alive connections, by wrk

(a)-(d) share one server process, run in that order with (c) last (its
sessions linger until disconnect_delay); (e), (f) and (g) get a fresh one
each, (g) the server's plain-HTTP counterpart (lineup.Peer.hello). Each
scenario runs on the Node generator (nodegen) or, with --generator python,
on the gevent one inside this process (pygen); (g) always on wrk.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from bench.lib import httpbench, nodegen, pygen
from bench.lib.lineup import Peer
from bench.lib.procs import messages
from testkit.serverproc import RunningServer

ECHO_SESSIONS = 100
BROADCAST_SESSIONS = 1000
OPEN_CONCURRENCY = 50
HTTP_SESSIONS = 50
IDLE_WS = 5000
IDLE_XHR = 2000
HOLD_SESSIONS = 10_000
WARMUP = 1.0


@dataclass
class Settings:
    duration: float
    hold: float
    generator: str  # "node" or "python"
    node_flags: tuple[str, ...] = ()  # more loadgen.js flags, e.g. ("--ws", "ws")


@dataclass
class Scenario:
    key: str  # in the results
    letter: str
    title: str
    process: str  # "shared": (a)-(d)'s server; "fresh": a server of its own; "hello": the plain-HTTP server
    node: Callable[[RunningServer, Peer, Settings], dict]
    python: Callable[[RunningServer, Peer, Settings], dict]


def _node(name: str, seconds: Callable[[Settings], float] = lambda s: s.duration + WARMUP + 30, **options: object):
    def run(server: RunningServer, peer: Peer, s: Settings) -> dict:
        return nodegen.run(name, server, seconds(s), s.node_flags, duration=s.duration, warmup=WARMUP, **options)

    return run


def _ws_echo_node(server: RunningServer, peer: Peer, s: Settings) -> dict:
    return nodegen.run(
        "ws-echo",
        server,
        s.duration + WARMUP + 30,
        s.node_flags,
        duration=s.duration,
        warmup=WARMUP,
        sessions=ECHO_SESSIONS,
        raw=not peer.sockjs,
    )


def _ws_echo_python(server: RunningServer, peer: Peer, s: Settings) -> dict:
    path = "/echo/0/ws{i}/websocket" if peer.sockjs else "/"
    return pygen.websocket_echo(server, path, peer.sockjs, ECHO_SESSIONS, s.duration)


def _wrk(server: RunningServer, peer: Peer, s: Settings) -> dict:
    return httpbench.plain_http(server, s.duration)


SCENARIOS = [
    Scenario("ws_echo", "a", "(a) websocket echo", "shared", _ws_echo_node, _ws_echo_python),
    Scenario(
        "broadcast",
        "b",
        "(b) broadcast",
        "shared",
        _node("broadcast", sessions=BROADCAST_SESSIONS),
        lambda server, peer, s: pygen.broadcast(server, BROADCAST_SESSIONS, s.duration),
    ),
    Scenario(
        "xhr_polling_echo",
        "d",
        "(d) xhr-polling echo",
        "shared",
        _node("xhr-polling-echo", sessions=HTTP_SESSIONS),
        lambda server, peer, s: pygen.xhr_polling_echo(server, "/echo", HTTP_SESSIONS, s.duration),
    ),
    Scenario(
        "xhr_streaming_echo",
        "d",
        "(d) xhr-streaming echo",
        "shared",
        _node("xhr-streaming-echo", sessions=HTTP_SESSIONS),
        lambda server, peer, s: pygen.xhr_streaming_echo(server, "/echo", HTTP_SESSIONS, s.duration),
    ),
    Scenario(
        "ws_opens",
        "c",
        "(c) websocket sessions opened",
        "shared",
        _node("ws-opens", concurrency=OPEN_CONCURRENCY),
        lambda server, peer, s: pygen.websocket_opens(server, OPEN_CONCURRENCY, s.duration),
    ),
    Scenario(
        "xhr_streaming_opens",
        "c",
        "(c) xhr-streaming sessions opened",
        "shared",
        _node("xhr-streaming-opens", concurrency=OPEN_CONCURRENCY),
        lambda server, peer, s: pygen.xhr_streaming_opens(server, OPEN_CONCURRENCY, s.duration),
    ),
    Scenario(
        "idle_ws",
        "e",
        f"(e) {IDLE_WS:,} idle websocket sessions",
        "fresh",
        _node("idle", lambda s: 300, transport="websocket", sessions=IDLE_WS),
        lambda server, peer, s: pygen.idle_memory(server, "websocket", IDLE_WS),
    ),
    Scenario(
        "idle_xhr",
        "e",
        f"(e) {IDLE_XHR:,} idle xhr-streaming sessions",
        "fresh",
        _node("idle", lambda s: 300, transport="xhr_streaming", sessions=IDLE_XHR),
        lambda server, peer, s: pygen.idle_memory(server, "xhr_streaming", IDLE_XHR),
    ),
    Scenario(
        "hold",
        "f",
        f"(f) {HOLD_SESSIONS:,} websocket sessions held",
        "fresh",
        lambda server, peer, s: nodegen.run(
            "hold", server, s.hold + 300, s.node_flags, sessions=HOLD_SESSIONS, hold=s.hold
        ),
        lambda server, peer, s: pygen.hold_idle(server, HOLD_SESSIONS, s.hold),
    ),
    Scenario("http_hello", "g", "(g) plain HTTP (wrk)", "hello", _wrk, _wrk),
]


def applies(scenario: Scenario, peer: Peer, letters: str) -> bool:
    return (
        scenario.letter in letters
        and scenario.letter in peer.scenarios
        and (scenario.process != "hello" or peer.hello is not None)
    )


def guarded(run: Callable[[], dict]) -> dict:
    """run(), or {"failed": why} if it raised."""
    try:
        return run()
    except Exception as exc:
        return {"failed": f"{type(exc).__name__}: {str(exc)[:200]}"}


def run_peer(peer: Peer, peers: str, letters: str, settings: Settings) -> dict:
    """Every wanted scenario against ``peer``: {key: result}, plus the servers' stderr if any."""
    results: dict = {}
    wanted = [s for s in SCENARIOS if applies(s, peer, letters)]

    def run(scenario: Scenario, server: RunningServer) -> None:
        print(f"  {peer.name}: {scenario.title}", file=sys.stderr, flush=True)
        how = scenario.node if settings.generator == "node" else scenario.python
        results[scenario.key] = guarded(lambda: how(server, peer, settings))

    def with_server(start: Callable[[], RunningServer], scenarios: list[Scenario]) -> None:
        try:
            server = start()
        except Exception as exc:
            for scenario in scenarios:
                results[scenario.key] = {"failed": f"server did not start: {str(exc)[:200]}"}
            return
        with server:
            for scenario in scenarios:
                run(scenario, server)
            log = messages(server)
        if log.strip():
            results["server_stderr_tail"] = results.get("server_stderr_tail", "") + log[-1500:]

    shared = [s for s in wanted if s.process == "shared"]
    if shared:
        with_server(lambda: peer.start(peers), shared)
    for scenario in wanted:
        if scenario.process == "fresh":
            with_server(lambda: peer.start(peers), [scenario])
        elif scenario.process == "hello":
            with_server(lambda: peer.start_hello(peers), [scenario])
    return results
