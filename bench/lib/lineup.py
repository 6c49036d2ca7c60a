"""The servers bench.py compares: how to start each, and its plain-HTTP counterpart.

Each entry starts one process (procs.start_pinned) that prints "listening on
http://HOST:PORT" when ready: the SockJS server for scenarios (a)-(f), and
``hello`` for (g), a 2-byte answer to any request. sockjs-node's column has
Node's own ``http.createServer`` there, the baseline for any HTTP server.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass

from bench.lib.procs import BENCH, server_module, start_pinned
from testkit.serverproc import RunningServer

SCENARIOS = "abcdefg"
GEVENT_LAUNCHER = server_module("sockjs_gevent_server")

Args = Callable[[str], list[str]]  # peers dir -> the program's arguments


@dataclass
class Peer:
    name: str
    args: Args
    program: Callable[[str], list[str] | None] = lambda peers: None  # None: this interpreter
    env: Callable[[str], dict[str, str]] = lambda peers: {}
    needs: Callable[[str], str | None] = lambda peers: None  # a file that must exist
    hello: Args | None = None  # the plain-HTTP server for (g), run by the same program
    scenarios: str = SCENARIOS
    sockjs: bool = True

    def start(self, peers: str) -> RunningServer:
        return start_pinned(self.args(peers), program=self.program(peers), env=self.env(peers))

    def start_hello(self, peers: str) -> RunningServer:
        assert self.hello is not None
        return start_pinned(self.hello(peers), program=self.program(peers), env=self.env(peers))


def _in(peers: str, *parts: str) -> str:
    return os.path.join(peers, *parts)


def gevent_peer(name: str, extra: list[str]) -> Peer:
    """sockjs-gevent through bench/servers/sockjs_gevent_server.py, ``extra`` going to its command line."""
    return Peer(
        name,
        lambda p: [*GEVENT_LAUNCHER, "--port", "0", *extra],
        hello=lambda p: [*GEVENT_LAUNCHER, "--port", "0", "--app", "hello", *extra],
    )


def serve_picks_server() -> bool:
    """Whether this sockjs_gevent's serve() takes ``server=`` (the pywsgi / httptools choice)."""
    from sockjs_gevent import serve

    return "server" in inspect.signature(serve).parameters


SERVERS = {
    "sockjs-gevent": gevent_peer("sockjs-gevent", []),
    # serve(..., server="pywsgi"): listed by default once serve() has that keyword.
    "sockjs-gevent-pywsgi": gevent_peer("sockjs-gevent-pywsgi", ["--server", "pywsgi"]),
    "sockjs-node": Peer(
        "sockjs-node",
        lambda p: [os.path.join(BENCH, "peers", "node_server.js"), "0"],
        program=lambda p: ["node"],
        env=lambda p: {"NODE_PATH": _in(p, "node", "node_modules")},
        needs=lambda p: _in(p, "node", "node_modules", "sockjs", "package.json"),
        hello=lambda p: [os.path.join(BENCH, "node", "hello_server.js"), "0"],
    ),
    "sockjs-tornado": Peer(
        "sockjs-tornado",
        lambda p: [os.path.join(BENCH, "peers", "tornado_server.py"), "0"],
        program=lambda p: [_in(p, "venv-tornado", "bin", "python")],
        needs=lambda p: _in(p, "venv-tornado", "bin", "python"),
    ),
    "aiohttp-sockjs": Peer(
        "aiohttp-sockjs",
        lambda p: [os.path.join(BENCH, "peers", "aiohttp_server.py"), "0"],
        program=lambda p: [_in(p, "venv-aiohttp", "bin", "python")],
        needs=lambda p: _in(p, "venv-aiohttp", "bin", "python"),
    ),
    # No SockJS: a bare gevent websocket echo, (a) only; what the stack costs without us.
    "raw": Peer("raw", lambda p: [*server_module("raw_echo_server"), "--port", "0"], scenarios="a", sockjs=False),
}
REFERENCE = "sockjs-node"


def default_servers() -> list[str]:
    """Every server, but the pywsgi variant only where serve() can pick it."""
    return [name for name in SERVERS if name != "sockjs-gevent-pywsgi" or serve_picks_server()]
