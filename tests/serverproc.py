"""Start real servers as subprocesses on loopback ports (used by fixtures and tests).

Servers print one ready line (``... listening on http://HOST:PORT``) once the
socket is bound, so callers wait on that line instead of sleeping or polling.
Import it as ``from serverproc import start_server`` (tests/ is on sys.path).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READY = re.compile(r"listening on (https?)://([\d.]+):(\d+)")
START_TIMEOUT = 20.0


@dataclass
class RunningServer:
    """A server subprocess and where it listens."""

    process: subprocess.Popen
    host: str
    port: int
    output: list[str] = field(default_factory=list)
    scheme: str = "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        return "".join(self.output)


def start_server(args: list[str], env: dict[str, str] | None = None) -> RunningServer:
    """Run ``python ARGS`` from the repo root and wait for its ready line."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env["PYTHONUNBUFFERED"] = "1"
    if env:
        full_env.update(env)
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    found: dict[str, tuple[str, int]] = {}
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if not ready.is_set():
                match = READY.search(line)
                if match:
                    found["addr"] = (match.group(2), int(match.group(3)))
                    found["scheme"] = match.group(1)
                    ready.set()
        ready.set()  # process ended: wake the waiter either way

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(START_TIMEOUT) or "addr" not in found:
        process.kill()
        raise RuntimeError("server did not start:\n" + "".join(output))
    host, port = found["addr"]
    return RunningServer(process, host, port, output, found["scheme"])


def start_testserver(*extra: str) -> RunningServer:
    """Start ``python -m sockjs_gevent.testserver`` on a free loopback port."""
    return start_server(
        ["-m", "sockjs_gevent.testserver", "--host", "127.0.0.1", "--port", "0", *extra]
    )




def http(server: RunningServer, method: str, path: str, body: bytes | str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes, "http.client.HTTPResponse"]:
    """One plain HTTP request to a running server: (status, body, response)."""
    import http.client

    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response
    finally:
        conn.close()


def poll_until(predicate: Callable[[], Any], timeout: float, what: str = "the condition",
               interval: float = 0.02, sleep: Callable[[float], Any] = time.sleep) -> Any:
    """Check ``predicate`` every ``interval`` s until it is truthy, and return it.

    For state only a server can report, where there is no event to wait on;
    AssertionError naming ``what`` after ``timeout`` s. Pass
    ``sleep=gevent.sleep`` when client greenlets must run meanwhile.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        sleep(interval)
