"""The server under test pinned to one core, the load generator on the other.

Servers start through testkit.serverproc (port 0, the ready line, output
collected, SIGTERM then SIGKILL) under ``taskset -c SERVER_CORE``, with
RLIMIT_NOFILE at its hard limit; ``pin_to_client_core`` moves this process
to the other core.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Sequence

from testkit.serverproc import READY, ROOT, RunningServer, raise_nofile, start_server

BENCH = os.path.join(ROOT, "bench")
SERVER_CORE = 0
CLIENT_CORE = 1


def raise_nofile_limit() -> int:
    """Lift this process's open-file limit to its hard limit (children inherit it); returns it."""
    return raise_nofile()


def server_module(name: str) -> list[str]:
    """The arguments that run bench/servers/NAME.py (``python -m bench.servers.NAME``)."""
    return ["-m", f"bench.servers.{name}"]


def start_pinned(
    args: Sequence[str],
    core: int | str = SERVER_CORE,
    program: Sequence[str] | None = None,
    env: dict[str, str | None] | None = None,
) -> RunningServer:
    """``python ARGS`` (``program`` instead: ``["node"]``, a peer venv's python) pinned to ``core``, once ready."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return start_server(args, env, program=program, core=core, nofile=hard)


def messages(server: RunningServer) -> str:
    """What the server printed besides its ready line (warnings, tracebacks)."""
    return "".join(line for line in server.output if not READY.search(line))


def pin_to_client_core() -> None:
    """Run this (load generator) process on the other core."""
    os.sched_setaffinity(0, {CLIENT_CORE})
