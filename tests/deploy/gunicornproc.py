"""Real gunicorn processes with ``-k sockjs_gevent.gunicorn.Worker`` for the tests (one arbiter each).

``start_gunicorn(...)`` binds a free loopback port (and whatever ``binds``
adds), serves ``gunicorn_apps:app`` and returns once every worker logged
its ready line (``sockjs-gevent worker ready (pid: N)``), so tests wait on
log lines, not on sleeps. ``Gunicorn.workers()`` reads the arbiter's
children from /proc. Every process a test starts is stopped by
``Gunicorn.stop()`` (SIGTERM, then SIGKILL), the ``gunicorn`` fixture's
teardown calls it.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from testkit.redisservers import free_port  # below the ephemeral range: no outgoing connection takes it meanwhile
from testkit.serverproc import ROOT, START_TIMEOUT, Output, child_env, poll_until, spawn

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = "sockjs_gevent.gunicorn.Worker"
#: The script, not ``python -m gunicorn``: USR2 re-executes the arbiter's argv, and a
#: ``-m`` argv[0] is gunicorn/__main__.py, whose folder (gunicorn's own ``http`` package) would
#: then shadow the standard library's.
GUNICORN = os.path.join(os.path.dirname(sys.executable), "gunicorn")
READY = re.compile(r"sockjs-gevent worker ready \(pid: (\d+)\)")


def _control_socket_args() -> list[str]:
    """gunicorn 25+ opens a control socket at one fixed path: parallel arbiters must not share it."""
    from gunicorn.config import KNOWN_SETTINGS

    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else []


def gunicorn_env(env: dict[str, str] | None = None) -> dict[str, str | None]:
    """What gunicorn gets on top of this environment: tests/deploy importable (``gunicorn_apps``), no SCRIPT_NAME."""
    return {
        "PYTHONPATH": os.pathsep.join([ROOT, HERE, os.environ.get("PYTHONPATH", "")]),
        "DISCONNECT_DELAY": os.environ.get("DISCONNECT_DELAY", "2"),
        "SCRIPT_NAME": None,
        **(env or {}),
    }


def command(
    *args: str, workers: int = 1, app: str = "gunicorn_apps:app", worker_class: str | None = WORKER
) -> list[str]:
    """The gunicorn command line; ``worker_class=None`` leaves ``-k`` to a config file."""
    chosen = ["-k", worker_class] if worker_class else []
    return [GUNICORN, *chosen, "-w", str(workers), "--graceful-timeout", "5", *_control_socket_args(), *args, app]


@dataclass
class Gunicorn:
    """A running gunicorn arbiter and what it printed (stdout and stderr together)."""

    process: subprocess.Popen
    out: Output
    port: int
    scheme: str = "http"
    host: str = "127.0.0.1"
    #: Other arbiters this test started through this one (USR2): stopped with it.
    extra_pids: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def log(self) -> str:
        return self.out.text()

    def mark(self) -> int:
        """The number of lines printed so far: a start for ``wait_ready`` and ``wait_for``."""
        return len(self.out.lines)

    def wait_for(self, pattern: str, timeout: float = 10.0, start: int = 0) -> re.Match:
        return self.out.wait_for(pattern, timeout, start)

    def wait_ready(self, count: int, start: int = 0, timeout: float = START_TIMEOUT) -> list[int]:
        """The pids of the first ``count`` workers that said they are ready after line ``start``."""
        pattern = r"(?s)" + r".*?".join([READY.pattern] * count)
        self.out.wait_for(pattern, timeout, start)
        return [int(pid) for pid in READY.findall("".join(self.out.lines[start:]))][:count]

    def workers(self, master: int | None = None) -> set[int]:
        """The pids of the arbiter's children now."""
        return children(master or self.pid)

    def get(self, path: str, headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
        """One request on a new connection: (status, body)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def post(self, path: str, body: bytes | str = b"") -> tuple[int, bytes]:
        """One POST on a new connection (so any worker may accept it): (status, body)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "text/plain"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait_exited(self, timeout: float = 15.0) -> int:
        status = self.process.wait(timeout=timeout)
        return status

    def stop(self) -> None:
        """SIGTERM every arbiter this test started, SIGKILL what is left after 10 s, and reap."""
        pids = [p for p in self.extra_pids if _alive(p)]
        for pid in pids:
            _kill(pid, signal.SIGTERM)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                for child in children(self.pid):
                    _kill(child, signal.SIGKILL)
                self.process.kill()
                self.process.wait()
        for pid in pids:
            try:
                poll_until(lambda pid=pid: not _alive(pid), 10, f"arbiter {pid} to exit", interval=0.05)
            except AssertionError:
                for child in children(pid):
                    _kill(child, signal.SIGKILL)
                _kill(pid, signal.SIGKILL)


def children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (from /proc/PID/task/*/children; zombies left out)."""
    found: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.update(int(p) for p in f.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return {child for child in found if _alive(child)}


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def start_gunicorn(
    *args: str,
    workers: int = 1,
    binds: Sequence[str] = (),
    env: dict[str, str] | None = None,
    scheme: str = "http",
    app: str = "gunicorn_apps:app",
    worker_class: str | None = WORKER,
) -> Gunicorn:
    """gunicorn on a free loopback port (first) and ``binds``, once all ``workers`` are ready."""
    port = free_port()
    bind_args = ["--bind", f"127.0.0.1:{port}"]
    for bind in binds:
        bind_args += ["--bind", bind]
    process, out = spawn(
        command(*bind_args, *args, workers=workers, app=app, worker_class=worker_class), gunicorn_env(env)
    )
    running = Gunicorn(process, out, port, scheme)
    try:
        running.wait_ready(workers)
    except AssertionError:
        running.stop()
        raise RuntimeError("gunicorn did not start:\n" + running.log()) from None
    return running


def run_refused(*args: str, workers: int = 1, timeout: float = 30.0) -> tuple[int, str]:
    """Run a gunicorn that must not start: (exit status, everything it printed)."""
    result = subprocess.run(
        command("--bind", f"127.0.0.1:{free_port()}", *args, workers=workers),
        cwd=ROOT,
        env=child_env(gunicorn_env()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    return result.returncode, result.stdout


def wait_gone(pids: set[int], timeout: float = 15.0) -> None:
    poll_until(lambda: not any(_alive(p) for p in pids), timeout, f"processes {sorted(pids)} to exit", interval=0.05)


def session_in_slot(slot: int, slots: int = 2) -> str:
    """A new session id that slot ``slot`` of ``slots`` holds (sockjs_gevent.handoff.slot_of)."""
    from sockjs_gevent.handoff import slot_of

    while True:
        sid = uuid.uuid4().hex
        if slot_of(sid, slots) == slot:
            return sid
