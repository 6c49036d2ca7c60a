"""Several worker processes on one port, each request of a session served by the worker that holds it.

    python -m sockjs_gevent myapp:app --port 8080 --workers 4

The runner binds the port, starts ``--workers`` copies of the same command
(each told the listening socket's descriptor with ``--listen-fd``), and
keeps them running: a worker that dies is started again and takes its slot
back (see ``sockjs_gevent.handoff``). Workers accept from the one shared
socket and hand a session's requests to the session's worker. SIGTERM or
SIGINT stops them all gracefully (each closes its sessions with 1001). A
worker that fails at start with a configuration error (exit status 2)
stops the runner with that status.
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
from typing import Any, Optional, Sequence

from .handoff import DIRECTORY_ENV, SLOTS_ENV, SlotError, Slots, default_directory, from_environment

log = logging.getLogger("sockjs_gevent.workers")

RESTART_PAUSE = 0.5
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
#: Exit status of a worker that could not start as configured (the CLIs' usage errors).
USAGE_ERROR = 2


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("workers")
    group.add_argument("--workers", type=positive_int, default=1,
                       help="worker processes sharing the port; a session's requests reach its worker (default 1)")
    group.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)


def positive_int(text: str) -> int:
    """An argparse type: a whole number, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def is_runner(args: argparse.Namespace) -> bool:
    """Whether this process should run workers rather than serve itself."""
    return args.workers > 1 and args.listen_fd is None


def check_worker_arguments(args: argparse.Namespace) -> Optional[str]:
    """What is wrong with --workers beside the other options (one line), or None."""
    if args.workers > 1 and getattr(args, "server", "httptools") != "httptools":
        return "--workers needs the httptools server (hand-off between workers is built into it)"
    if args.workers > 1 and (getattr(args, "certfile", None) or getattr(args, "keyfile", None)):
        return ("--workers with --certfile cannot work: a TLS connection cannot move to another worker; "
                "terminate TLS in front (nginx) or run one worker")
    return None


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


class Runner:
    """Starts and keeps ``workers`` copies of a command on one listening socket."""

    def __init__(self, command: Sequence[str], workers: int, listener: socket.socket) -> None:
        self.listener = listener
        host, port = listener.getsockname()[:2]
        self.address = f"{host}:{port}"
        self.workers = workers
        directory = default_directory([self.address])
        self.slots = Slots(directory, workers)  # checks the directory now, with a clear error
        self.command = [*command, "--listen-fd", str(listener.fileno())]
        self.env = dict(os.environ, **{SLOTS_ENV: str(workers), DIRECTORY_ENV: directory})
        self.processes: list[Optional[subprocess.Popen]] = [None] * workers
        self.started: list[float] = [0.0] * workers
        self.stopping = False
        self.status = 0

    def start(self, index: int) -> None:
        self.processes[index] = subprocess.Popen(self.command, env=self.env, pass_fds=(self.listener.fileno(),),
                                                 preexec_fn=_die_with_parent)
        self.started[index] = time.monotonic()

    def run(self, ready: Any = None) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        for index in range(self.workers):
            self.start(index)
        if not self._wait_ready():
            self._stop(0, None)
            return self._wait_all() or self.status or 1
        if ready is not None:
            ready(self)
        while not self.stopping:
            self._watch()
            time.sleep(0.1)
        return self._wait_all() or self.status

    def _wait_ready(self) -> bool:
        """Until every slot's socket exists (each worker holds a slot and takes hand-offs); False if one failed."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and not self.stopping:
            if all(os.path.exists(self.slots.socket_path(i)) for i in range(self.workers)):
                return True
            if not self._watch():
                return False
            time.sleep(0.02)
        if not self.stopping:
            log.error("workers not ready after %.0f s", READY_TIMEOUT)
        return False

    def _watch(self) -> bool:
        """Restart dead workers; False (and stop) when one failed with a usage error."""
        for index, process in enumerate(self.processes):
            if process is None or process.poll() is None or self.stopping:
                continue
            if process.returncode == USAGE_ERROR:
                log.error("worker %d exited with a usage error (status 2): stopping", process.pid)
                self.status = USAGE_ERROR
                self._stop(0, None)
                return False
            log.warning("worker %d exited with status %s; starting another", process.pid, process.returncode)
            time.sleep(RESTART_PAUSE)
            if not self.stopping:
                self.start(index)
        return True

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)

    def _wait_all(self) -> int:
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes:
            if process is None:
                continue
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return self.status


def run_workers(module: str, argv: Sequence[str], args: argparse.Namespace, ready: Any = None) -> int:
    """Bind ``args.host:args.port`` and run ``args.workers`` of ``python -m module ARGV`` on it; the exit status.

    What keeps it from starting (the address, the slot directory) raises
    ``server.UsageError`` with one line, as the one-process server does.
    """
    from .server import UsageError, listen_failure  # (server imports this module)

    listener = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((args.host, args.port))
        listener.listen(getattr(args, "backlog", None) or 1024)
    except (OSError, OverflowError) as exc:
        listener.close()
        raise UsageError(listen_failure(exc, args.host, args.port)) from None
    listener.set_inheritable(True)
    try:
        runner = Runner([sys.executable, "-m", module, *argv], args.workers, listener)
    except SlotError as exc:
        listener.close()
        raise UsageError(f"hand-off slots: {exc}") from None
    return runner.run(ready)


def runner_ready(runner: Runner) -> None:
    """The runner's ready line (the same form as ``server.print_ready``)."""
    sys.stdout.write(f"sockjs-gevent listening on http://{runner.address} ({runner.workers} workers)\n")
    sys.stdout.flush()


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In a worker before exec: SIGTERM it if the runner dies, even by SIGKILL (Linux)."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
