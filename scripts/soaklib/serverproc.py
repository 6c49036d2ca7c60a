"""The test server subprocess and what /proc and GET /stats say about it.

Starts ``python -m sockjs_gevent.testserver`` with the soak's heartbeat and
disconnect delays (through testkit.serverproc, with RLIMIT_NOFILE raised
for it), logs its output to a file (counting ERROR / WARNING / Traceback
lines), and reads its VmRSS, VmHWM and descriptor count.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from typing import Any

from testkit.rawhttp import ProtocolError
from testkit.serverproc import start_server

from .rawclient import HOST, IO_TIMEOUT, Http

NOFILE = 65536
START_TIMEOUT = 30.0
TROUBLE = ("Traceback", " ERROR ", " CRITICAL ", " WARNING ")


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM in KiB (empty once the process is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name, value = line.split(":", 1)
                    out[name] = int(value.split()[0])
    except OSError:
        pass
    return out


def rss_mb(pid: int) -> float:
    return proc_status(pid).get("VmRSS", 0) / 1024.0


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (utime + stime of /proc/PID/stat); -1 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return -1.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def nofile_limit(pid: int) -> int:
    """The process's soft RLIMIT_NOFILE as /proc/PID/limits shows it (-1 if unknown)."""
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return -1


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


class Server:
    """The test server subprocess; its output goes to a log file and is scanned for trouble."""

    def __init__(self, args: argparse.Namespace) -> None:
        options = ["--host", HOST, "--port", str(args.port)]
        options += ["--heartbeat-delay", str(args.heartbeat_delay), "--disconnect-delay", str(args.disconnect_delay)]
        self.log_path = args.server_log
        self.log = open(self.log_path, "w")
        self.trouble: Counter[str] = Counter()  # ERROR / WARNING / Traceback lines
        self.examples: list[str] = []
        try:
            self.running = start_server(
                ["-m", "sockjs_gevent.testserver", *options, *args.server_arg],
                root=os.path.abspath(args.server_root),
                nofile=args.nofile,
                tee=self.log,
                on_line=self._scan,
                timeout=START_TIMEOUT,
            )
        except RuntimeError:
            raise SystemExit(f"server did not start; see {self.log_path}") from None
        self.proc = self.running.process
        self.pid = self.running.pid
        self.port = self.running.port

    def _scan(self, line: str) -> None:
        """Count a line of trouble (run by the output's reader thread)."""
        for word in TROUBLE:
            if word in line:
                self.trouble[word.strip()] += 1
                if len(self.examples) < 10:
                    self.examples.append(line.rstrip())

    def stats(self) -> dict[str, Any] | None:
        """GET /stats (raw HTTP, no client library)."""
        try:
            conn = Http(IO_TIMEOUT)
            try:
                conn.send_request("GET", "/stats", {"Connection": "close"})
                answer = conn.read_response()
            finally:
                conn.close()
            return json.loads(answer.body) if answer.status == 200 else None
        except (OSError, EOFError, ValueError, ProtocolError):
            return None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM (SIGKILL after ``timeout`` s), the last lines logged; the exit status."""
        code = self.running.stop(timeout)
        try:
            self.running.out.wait_ended(5.0)
            self.log.close()
        except AssertionError:  # a child still holds the pipe: the reader goes on logging what it prints
            pass
        return code


def services(stats: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The services' entries of /stats (not "budget" nor "handoff", the process's)."""
    return [s for s in (stats or {}).values() if isinstance(s, dict) and "sessions_open" in s]


def server_counts(stats: dict[str, Any] | None) -> tuple[int, int]:
    """(sessions open, sessions registered) over all services; (-1, -1) if unknown."""
    if not stats:
        return -1, -1
    opened = sum(sum(s["sessions_open"].values()) for s in services(stats))
    registered = sum(s["sessions_registered"] for s in services(stats))
    return opened, registered


def server_errors(stats: dict[str, Any] | None) -> Counter[str]:
    """The services' problems by kind (/stats ``problems``) over all services."""
    out: Counter[str] = Counter()
    for s in services(stats):
        out.update(s["problems"])
    return out


def server_closes(stats: dict[str, Any] | None) -> Counter[str]:
    out: Counter[str] = Counter()
    for s in services(stats):
        out.update(s["sessions_closed"])
    return out
