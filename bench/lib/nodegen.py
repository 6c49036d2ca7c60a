"""Run the Node load generator (bench/node/loadgen.js) for one scenario, pinned to core 1.

The generator meters its own CPU, the server's (from /proc/PID/stat) and
the machine's over the measured window, checks every answer, and prints
one JSON object: that object is the scenario's result here.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence

from bench.lib.procs import BENCH, CLIENT_CORE, raise_nofile_limit
from testkit.serverproc import RunningServer

LOADGEN = os.path.join(BENCH, "node", "loadgen.js")
WS_PACKAGE = os.path.join(BENCH, "node", "node_modules", "ws", "package.json")
GRACE = 90.0  # seconds past the scenario's own length before the generator is killed


def installed() -> bool:
    return os.path.exists(WS_PACKAGE)


def run(scenario: str, server: RunningServer, seconds: float, flags: Sequence[str] = (), **options: object) -> dict:
    """``node loadgen.js SCENARIO --port ... --server-pid ... FLAGS`` with ``options`` as --flags too.

    ``seconds``: how long the scenario should take; it is killed GRACE s later.
    True adds a bare flag, None or False leaves it out. A generator that
    prints no JSON gives ``{"failed": ...}`` with the end of its stderr.
    """
    command = [
        "taskset",
        "-c",
        str(CLIENT_CORE),
        "node",
        LOADGEN,
        scenario,
        "--port",
        str(server.port),
        "--server-pid",
        str(server.pid),
        "--clock-ticks",
        str(os.sysconf("SC_CLK_TCK")),
        *flags,
    ]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            command.append(flag)
        elif value is not None and value is not False:
            command += [flag, str(value)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=seconds + GRACE, preexec_fn=raise_nofile_limit)
    except subprocess.TimeoutExpired:
        return {"failed": f"the generator did not finish within {seconds + GRACE:.0f} s"}
    for line in reversed(done.stdout.decode("utf-8", "replace").splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = done.stderr.decode("utf-8", "replace")[-300:]
    return {"failed": f"the generator exited {done.returncode} without a result: {tail}"}
