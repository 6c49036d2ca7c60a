"""Start servers as subprocesses on loopback ports: the one starter of the tests, the benchmarks and the soak.

A server prints one ready line (``... listening on http://HOST:PORT``)
once its socket is bound, so a caller asks for port 0 and waits on that
line instead of sleeping or polling. Everything the process prints
(stdout and stderr together, one pipe) is read by a thread into an
``Output``, line by line, so a full pipe never blocks the server and a
caller can wait for a log line too; a ``tee`` file gets each line as it
comes. ``RunningServer.stop`` ends it: SIGTERM, SIGKILL if it lingers.

- ``start_server(args)``: ``python ARGS`` (or ``program + args``, e.g.
  node or another venv's python) from the repository root, with the root
  on PYTHONPATH; optionally pinned to a core (``taskset``) and with a
  raised RLIMIT_NOFILE;
- ``start_testserver(*options)``: ``python -m sockjs_gevent.testserver``;
- ``start_gunicorn(args, workers)``: gunicorn, returned once every worker
  said it is ready (``start_gunicorn_testserver`` serves the test services);
- ``spawn(argv)``: any process with its output collected (redis, nginx,
  haproxy...), for callers that wait on other signs of life;
- ``poll_until``: wait on state only a server can report;
- ``raise_nofile``, ``rss_kb``: RLIMIT_NOFILE and VmRSS, for the many-session runs.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READY = re.compile(r"listening on (https?)://([\d.]+):(\d+)")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def raise_nofile(limit: int | None = None) -> int:
    """Raise RLIMIT_NOFILE to ``limit`` (the hard limit when None) as far as allowed; the soft limit now.

    Root may raise the hard limit too. Children inherit the limits.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if limit is None else limit
    for pair in ((want, max(want, hard)), (min(want, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, pair)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kb(pid: int) -> int:
    """A process's resident set size (VmRSS) in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS line for process {pid}")


class Output:
    """What a subprocess prints on ``stream`` (its stdout, or its stderr), collected line by line by a reader thread.

    ``wait_for`` blocks until a line matching a pattern has been read: log
    lines travel through a pipe and a thread, so a client can see the effect
    of an action before its log line has reached us. ``tee`` (a text file)
    and ``on_line`` also get every line as it is read.
    """

    def __init__(
        self,
        stream: IO[str],
        tee: IO[str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.lines: list[str] = []
        self.ended = False
        self._tee = tee
        self._on_line = on_line
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            if self._tee is not None:
                self._tee.write(line)
                self._tee.flush()
            if self._on_line is not None:
                self._on_line(line)
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


def stop_process(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM, SIGKILL after ``timeout`` s; the exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@dataclass
class RunningServer:
    """A server subprocess and where it listens."""

    process: subprocess.Popen
    host: str
    port: int
    out: Output
    scheme: str = "http"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def output(self) -> list[str]:
        """The lines printed so far (stdout and stderr)."""
        return self.out.lines

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, SIGKILL after ``timeout`` s; the exit status."""
        return stop_process(self.process, timeout)

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

    def rss_kb(self) -> int:
        """The server's resident set size (VmRSS) in KiB."""
        return rss_kb(self.pid)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def child_env(env: dict[str, str | None] | None = None, root: str = ROOT) -> dict[str, str]:
    """This environment with ``root`` first on PYTHONPATH, output unbuffered, and ``env`` on top (None removes)."""
    full = dict(os.environ, PYTHONUNBUFFERED="1")
    full["PYTHONPATH"] = os.pathsep.join(p for p in (root, full.get("PYTHONPATH")) if p)
    for name, value in (env or {}).items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    return full


def spawn(
    argv: Sequence[str],
    env: dict[str, str | None] | None = None,
    *,
    root: str = ROOT,
    core: int | str | None = None,
    nofile: int | None = None,
    pass_fds: Sequence[int] = (),
    tee: IO[str] | None = None,
    on_line: Callable[[str], None] | None = None,
    stderr_apart: bool = False,
) -> tuple[subprocess.Popen, Output]:
    """Run ``argv`` in ``root`` (also put first on PYTHONPATH), its output collected; returns at once.

    ``env`` adds variables (None removes one); ``core`` pins it (``taskset -c core``, which
    execs it: same pid); ``nofile`` raises its RLIMIT_NOFILE that far. The output is stdout
    and stderr merged, or with ``stderr_apart`` stdout alone (``Output(process.stderr)``
    collects the other).
    """
    command = list(argv) if core is None else ["taskset", "-c", str(core), *argv]
    process = subprocess.Popen(
        command,
        cwd=root,
        env=child_env(env, root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr_apart else subprocess.STDOUT,
        text=True,
        errors="replace",
        pass_fds=pass_fds,
        preexec_fn=None if nofile is None else lambda: raise_nofile(nofile),
    )
    assert process.stdout is not None
    return process, Output(process.stdout, tee, on_line)


def start_server(
    args: Sequence[str],
    env: dict[str, str | None] | None = None,
    *,
    program: Sequence[str] | None = None,
    ready: re.Pattern = READY,
    timeout: float = START_TIMEOUT,
    **how: Any,
) -> RunningServer:
    """Run ``python ARGS`` (``program`` instead of this python) and wait for its ready line.

    ``how`` is ``spawn``'s: root, core, nofile, pass_fds, tee, on_line.
    RuntimeError with what it printed if it does not start.
    """
    argv = [*(program or [sys.executable]), *args]
    process, out = spawn(argv, env, **how)
    try:
        match = out.wait_for(ready, timeout)
    except AssertionError:
        stop_process(process, 0)
        raise RuntimeError(f"{' '.join(argv)} did not start:\n{out.text()}") from None
    return RunningServer(process, match.group(2), int(match.group(3)), out, match.group(1))


def start_testserver(*extra: str) -> RunningServer:
    """Start ``python -m sockjs_gevent.testserver`` on a free loopback port."""
    return start_server(["-m", "sockjs_gevent.testserver", "--host", "127.0.0.1", "--port", "0", *extra])


GUNICORN = os.path.join(os.path.dirname(sys.executable), "gunicorn")
GUNICORN_LISTENING = re.compile(r"Listening at: (https?)://([\d.]+):(\d+)")
GUNICORN_WORKER_READY = "sockjs-gevent worker ready"


def start_gunicorn(args: Sequence[str], workers: int, env: dict[str, str | None] | None = None) -> RunningServer:
    """``gunicorn ARGS`` (``-w workers`` among them, bound to a port 0); returns once every worker is ready.

    A session's requests are handed to the worker that holds it, which must
    be up to take them.
    """
    every_worker = re.compile("(?s)" + ".*?".join([re.escape(GUNICORN_WORKER_READY)] * workers))
    process, out = spawn([GUNICORN, *args], env)
    try:
        match = out.wait_for(GUNICORN_LISTENING, START_TIMEOUT)
        out.wait_for(every_worker, START_TIMEOUT)
    except AssertionError:
        stop_process(process, 0)
        raise RuntimeError("gunicorn did not start:\n" + out.text()) from None
    return RunningServer(process, match.group(2), int(match.group(3)), out, match.group(1))


def start_gunicorn_testserver(*extra: str, workers: int = 3) -> RunningServer:
    """The test services (with ``extra`` service options) on gunicorn ``-w workers`` with sockjs_gevent's worker."""
    app = "sockjs_gevent.testserver:gunicorn_app(" + ", ".join(repr(arg) for arg in extra) + ")"
    options = ["-k", "sockjs_gevent.gunicorn.Worker", "-w", str(workers), "--bind", "127.0.0.1:0"]
    return start_gunicorn([*options, "--graceful-timeout", "5", "--no-control-socket", app], workers)


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
