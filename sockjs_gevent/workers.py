"""Several worker processes on one port, each request of a session served by the worker that holds it.

    python -m sockjs_gevent myapp:app --port 8080 --workers 4

The runner binds the port, starts ``--workers`` copies of the same command
(each told the listening socket's descriptor with ``--listen-fd``), and
keeps them running: a worker that dies is started again and takes its slot
back (see ``sockjs_gevent.handoff``). Workers accept from the one shared
socket and hand a session's requests to the session's worker. SIGTERM or
SIGINT stops them all gracefully (each closes its sessions with 1001). A
worker that fails at start with a configuration error (exit status 2
before it is ready) stops the runner with that status. ``Supervisor`` is
what this runner and ``sockjs_gevent.cluster`` share. The flags, and
``run_workers`` (the runner a command line starts), are in ``sockjs_gevent.cli``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from .handoff import DIRECTORY_ENV, SLOTS_ENV, Slots, default_directory, from_environment

log = logging.getLogger("sockjs_gevent.workers")

RESTART_PAUSE = 0.5
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
#: Exit status of a worker that could not start as configured (the CLIs' usage errors).
USAGE_ERROR = 2


def worker_listener(args: argparse.Namespace) -> dict[str, Any]:
    """In a worker: the inherited socket and a hand-off holding a slot, as ``serve()`` keywords."""
    if args.listen_fd is None:
        return {}
    from gevent import socket as gevent_socket

    listener = gevent_socket.socket(fileno=args.listen_fd)
    host, port = listener.getsockname()[:2]
    handoff = from_environment([f"{host}:{port}"])
    if handoff is not None:
        handoff.claim()
        log.info("worker %d holds slot %d of %d", os.getpid(), handoff.slot, handoff.slots.count)
    return {"listener": listener, "handoff": handoff}


class Supervisor:
    """Keeps worker processes running: what ``Runner`` (one shared port) and ``cluster.Cluster`` (a port each) share.

    A worker that dies is started again after ``restart_pause``. One that
    exits with status 2 (``USAGE_ERROR``, the command lines' one-line
    mistakes: a target that does not import, an address it cannot bind)
    before it said it was ready failed with a configuration error that a
    restart cannot fix: every worker is stopped and the exit status is 2.
    A worker says it is ready (once it listens, right after its ready line)
    through the pipe it is given with ``--ready-fd``: see ``announce_ready``.
    SIGTERM or SIGINT stops every worker gracefully; the exit status is then 0.
    """

    restart_pause = RESTART_PAUSE

    def __init__(self, count: int, env: dict[str, str]) -> None:
        self.count = count
        self.env = env
        self.processes: list[subprocess.Popen | None] = [None] * count
        self.ready: list[bool] = [False] * count
        self._ready_pipes: list[int | None] = [None] * count  # read ends, until a worker said it is ready
        self.stopping = False
        self.status = 0

    def command(self, index: int) -> list[str]:
        """The command line of worker ``index``."""
        raise NotImplementedError

    def pass_fds(self, index: int) -> tuple[int, ...]:
        """Descriptors worker ``index`` inherits (beside its ready pipe)."""
        return ()

    def name(self, index: int) -> str:
        """Worker ``index`` in log lines."""
        process = self.processes[index]
        return f"worker {process.pid if process is not None else index}"

    def start(self, index: int) -> None:
        read_end, write_end = os.pipe()
        try:
            os.set_blocking(read_end, False)
            process = subprocess.Popen(
                [*self.command(index), "--ready-fd", str(write_end)],
                env=self.env,
                pass_fds=(*self.pass_fds(index), write_end),
                preexec_fn=_die_with_parent,
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)  # (the worker's copy is the only one: its exit is the pipe's end)
        self._close_ready_pipe(index)
        self.processes[index] = process
        self.ready[index] = False
        self._ready_pipes[index] = read_end

    def is_ready(self, index: int) -> bool:
        """Whether the current worker ``index`` said it is ready (checked without waiting)."""
        fd = self._ready_pipes[index]
        if fd is not None:
            try:
                said = os.read(fd, 64)
            except BlockingIOError:
                return False
            self.ready[index] = bool(said)
            self._close_ready_pipe(index)  # it said so, or it never will (it closed the pipe or exited)
        return self.ready[index]

    def _close_ready_pipe(self, index: int) -> None:
        fd, self._ready_pipes[index] = self._ready_pipes[index], None
        if fd is not None:
            os.close(fd)

    def _watch(self) -> bool:
        """Restart dead workers; False (and stop) when one failed with a configuration error."""
        for index, process in enumerate(self.processes):
            if process is None or self.stopping:
                continue
            if process.poll() is None:
                continue
            ready = self.is_ready(index)  # (now that it exited, the pipe holds all it said)
            if process.returncode == USAGE_ERROR and not ready:
                log.error(
                    "%s exited with status 2 before it was ready: a configuration error (its message is above), "
                    "which a restart cannot fix; stopping",
                    self.name(index),
                )
                self.status = USAGE_ERROR
                self._stop(0, None)
                return False
            log.warning("%s exited with %s; restarting", self.name(index), process.returncode)
            time.sleep(self.restart_pause)
            if not self.stopping:
                self.start(index)
        return True

    def _install_signals(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)

    def _wait_all(self) -> int:
        deadline = time.monotonic() + STOP_TIMEOUT
        for index, process in enumerate(self.processes):
            self._close_ready_pipe(index)
            if process is None:
                continue
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return self.status


def announce_ready(args: argparse.Namespace, callback: Callable[[Any], None]) -> Callable[[Any], None]:
    """A ``ready`` callback for ``serve()``: ``callback``, then telling the runner (``--ready-fd``) it is ready.

    Without ``--ready-fd`` (no runner), ``callback`` itself.
    """
    fd = getattr(args, "ready_fd", None)
    if fd is None:
        return callback
    try:
        os.set_inheritable(fd, False)  # not to the app's own subprocesses
    except OSError:
        return callback  # not open: nobody to tell

    def ready(server: Any) -> None:
        callback(server)
        try:
            os.write(fd, b"ready\n")
            os.close(fd)
        except OSError:
            pass  # the runner is gone

    return ready


class Runner(Supervisor):
    """Starts and keeps ``workers`` copies of a command on one listening socket."""

    def __init__(self, command: Sequence[str], workers: int, listener: socket.socket) -> None:
        self.listener = listener
        host, port = listener.getsockname()[:2]
        self.address = f"{host}:{port}"
        directory = default_directory([self.address])
        self.slots = Slots(directory, workers)  # checks the directory now, with a clear error
        self._command = [*command, "--listen-fd", str(listener.fileno())]
        super().__init__(workers, dict(os.environ, **{SLOTS_ENV: str(workers), DIRECTORY_ENV: directory}))

    def command(self, index: int) -> list[str]:
        return self._command

    def pass_fds(self, index: int) -> tuple[int, ...]:
        return (self.listener.fileno(),)

    def run(self, ready: Any = None) -> int:
        self._install_signals()
        for index in range(self.count):
            self.start(index)
        if not self._wait_ready():
            self._stop(0, None)
            return self._wait_all() or 1
        if ready is not None:
            ready(self)
        while not self.stopping:
            self._watch()
            time.sleep(0.1)
        return self._wait_all()

    def _wait_ready(self) -> bool:
        """Until every worker said it is ready (it holds a slot and takes hand-offs); False if one failed."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and not self.stopping:
            if all(self.is_ready(i) for i in range(self.count)):
                return True
            if not self._watch():
                return False
            time.sleep(0.02)
        if not self.stopping:
            log.error("workers not ready after %.0f s", READY_TIMEOUT)
        return False


def runner_ready(runner: Runner) -> None:
    """The runner's ready line (the same form as ``server.print_ready``)."""
    sys.stdout.write(f"sockjs-gevent listening on http://{runner.address} ({runner.count} workers)\n")
    sys.stdout.flush()


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In a worker before exec: SIGTERM it if the runner dies, even by SIGKILL (Linux)."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
