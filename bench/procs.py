"""Start a server subprocess pinned to one core and wait for its ready line."""

from __future__ import annotations

import os
import re
import resource
import select
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
READY = re.compile(rb"listening on http://([\d.]+):(\d+)")
START_TIMEOUT = 20.0
SERVER_CORE = 0
CLIENT_CORE = 1


def raise_nofile_limit() -> int:
    """Lift this process's open-file limit to its hard limit (children inherit it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Server:
    """A running server process: ``pid``, ``port``, ``stop()``, ``rss_kb()``.

    ``args`` go to this interpreter (with the project and bench/ on
    PYTHONPATH), unless ``program`` names another (``["node"]``, a peer
    venv's python); ``env`` adds variables.
    """

    def __init__(
        self,
        args: list[str],
        core: int = SERVER_CORE,
        program: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        environ = dict(os.environ, PYTHONUNBUFFERED="1")
        if program is None:
            environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, BENCH, environ.get("PYTHONPATH")) if p)
        environ.update(env or {})
        self.log = tempfile.TemporaryFile()  # stderr goes here, so a full pipe never blocks the server
        self.process = subprocess.Popen(
            ["taskset", "-c", str(core), *(program or [sys.executable]), *args],
            cwd=ROOT,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=self.log,
            preexec_fn=raise_nofile_limit,
        )
        self.pid = self.process.pid  # taskset execs the interpreter: same pid
        self.port = self._wait_ready()

    def _wait_ready(self) -> int:
        """Read stdout until the ready line; raise if it never comes."""
        out = self.process.stdout
        seen = b""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([out], [], [], 0.2)
            if ready:
                chunk = os.read(out.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
                match = READY.search(seen)
                if match:
                    return int(match.group(2))
            elif self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"server {self.process.args} did not start: {seen!r} {self.stderr()!r}")

    def rss_kb(self) -> int:
        """The server's resident set size (VmRSS) in KiB."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS line")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process.stdout.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def pin_to_client_core() -> None:
    """Run this (load generator) process on the other core."""
    os.sched_setaffinity(0, {CLIENT_CORE})
