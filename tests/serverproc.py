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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READY = re.compile(r"listening on (https?)://([\d.]+):(\d+)")
START_TIMEOUT = 20.0


class Output:
    """What a subprocess prints, collected line by line by a reader thread.

    ``wait_for`` blocks until a line matching a pattern has been read: log
    lines travel through a pipe and a thread, so a client can see the effect
    of an action before its log line has reached us.
    """

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self.ended = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._pump, args=(process,), daemon=True)
        self._thread.start()

    def _pump(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for(self, pattern: str | re.Pattern, timeout: float = 10.0, start: int = 0) -> re.Match:
        """The first match of ``pattern`` in the output from line ``start`` on; AssertionError after ``timeout`` s."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                match = regex.search("".join(self.lines[start:]))
                if match is not None:
                    return match
                left = deadline - time.monotonic()
                if self.ended or left <= 0:
                    raise AssertionError(f"no output matching {regex.pattern!r}; got:\n{''.join(self.lines)}")
                self._changed.wait(left)

    def wait_ended(self, timeout: float = 10.0) -> None:
        """Wait until the process closed its output (after it exited): then nothing more comes."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the process output did not end"


@dataclass
class RunningServer:
    """A server subprocess and where it listens."""

    process: subprocess.Popen
    host: str
    port: int
    out: Output
    scheme: str = "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def output(self) -> list[str]:
        """The lines printed so far (stdout and stderr)."""
        return self.out.lines

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
        return self.out.text()

    def wait_for_log(self, pattern: str | re.Pattern, timeout: float = 10.0) -> re.Match:
        """Block until the server has printed a line matching ``pattern``."""
        return self.out.wait_for(pattern, timeout)

    def wait_exited(self, timeout: float = 15.0) -> int:
        """Wait for the process to exit and for all of its output; its exit status."""
        status = self.process.wait(timeout=timeout)
        self.out.wait_ended(timeout)
        return status


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
    out = Output(process)
    try:
        match = out.wait_for(READY, START_TIMEOUT)
    except AssertionError:
        process.kill()
        process.wait()
        raise RuntimeError("server did not start:\n" + out.text()) from None
    return RunningServer(process, match.group(2), int(match.group(3)), out, match.group(1))


def start_testserver(*extra: str) -> RunningServer:
    """Start ``python -m sockjs_gevent.testserver`` on a free loopback port."""
    return start_server(["-m", "sockjs_gevent.testserver", "--host", "127.0.0.1", "--port", "0", *extra])


GUNICORN_LISTENING = re.compile(r"Listening at: (https?)://([\d.]+):(\d+)")
GUNICORN_WORKER_READY = "sockjs-gevent worker ready"


def start_gunicorn_testserver(*extra: str, workers: int = 3) -> RunningServer:
    """The test services (with ``extra`` service options) on gunicorn ``-w workers`` with sockjs_gevent's worker.

    Returns once every worker is ready: a session's requests are handed
    to the worker that holds it, which must be up to take them.
    """
    app = "sockjs_gevent.testserver:gunicorn_app(" + ", ".join(repr(arg) for arg in extra) + ")"
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    full_env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [
            gunicorn,
            "-k",
            "sockjs_gevent.gunicorn.Worker",
            "-w",
            str(workers),
            "--bind",
            "127.0.0.1:0",
            "--graceful-timeout",
            "5",
            "--no-control-socket",
            app,
        ],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Output(process)
    try:
        match = out.wait_for(GUNICORN_LISTENING, START_TIMEOUT)
        out.wait_for(re.compile("(?s)" + ".*?".join([re.escape(GUNICORN_WORKER_READY)] * workers)), START_TIMEOUT)
    except AssertionError:
        process.kill()
        process.wait()
        raise RuntimeError("gunicorn did not start:\n" + out.text()) from None
    return RunningServer(process, match.group(2), int(match.group(3)), out, match.group(1))


def read_answer(sock: Any) -> tuple[bytes, bytes]:
    """One HTTP answer with a Content-Length body from a raw socket: (head, body); what came if it closed early.

    (pywsgi sends a head and its body in separate writes: this waits for both.)
    """
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data, b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lengths = [line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    length = int(lengths[0]) if lengths else 0
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


def http(
    server: RunningServer,
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    """One plain HTTP request to a running server: (status, body, response)."""
    import http.client

    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response
    finally:
        conn.close()


def poll_until(
    predicate: Callable[[], Any],
    timeout: float,
    what: str = "the condition",
    interval: float = 0.02,
    sleep: Callable[[float], Any] = time.sleep,
) -> Any:
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
