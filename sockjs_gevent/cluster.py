"""Run several worker processes of one app on consecutive ports, for a load balancer to spread over.

For one machine, ``python -m sockjs_gevent TARGET --workers N`` (or gunicorn
with ``sockjs_gevent.gunicorn.Worker``) runs the workers on one port with
no sticky balancer needed (docs/deployment.md). This form remains for a
balancer that addresses each worker itself (HAProxy by server_id, or
scraping each worker's /metrics alone).

    python -m sockjs_gevent.cluster examples.chat.server:build_app --workers 3 \\
        --base-port 9001 --redis redis://127.0.0.1:6379/0

Worker i listens on base-port + i. With ``--redis`` the workers' channels
share a Redis bus, so a broadcast reaches members on every worker. A worker
that dies is restarted (after a short pause); SIGTERM or SIGINT stops all.
Put HAProxy in front (examples/haproxy.cfg) with sticky routing by the
server_id path segment or the JSESSIONID cookie.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from typing import Optional

from . import __version__

log = logging.getLogger("sockjs_gevent.cluster")
RESTART_PAUSE = 1.0


def _die_with_parent() -> None:
    """In a worker before exec: SIGTERM it if the runner dies, even by SIGKILL (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: workers may outlive a killed runner


_PR_SET_PDEATHSIG = 1


class Cluster:
    """N ``python -m sockjs_gevent`` workers on consecutive ports."""

    def __init__(self, target: str, workers: int, host: str, base_port: int, prefix: str = "", redis: Optional[str] = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.target = target
        self.host = host
        self.ports = [base_port + i for i in range(workers)]
        self.prefix = prefix
        self.env = dict(os.environ)
        if redis:
            self.env["SOCKJS_GEVENT_REDIS_URL"] = redis
        self.processes: dict[int, subprocess.Popen] = {}
        self.stopping = False

    def command(self, port: int) -> list[str]:
        cmd = [sys.executable, "-m", "sockjs_gevent", self.target, "--host", self.host, "--port", str(port)]
        return cmd + (["--prefix", self.prefix] if self.prefix else [])

    def start_worker(self, port: int) -> None:
        self.processes[port] = subprocess.Popen(self.command(port), env=self.env, preexec_fn=_die_with_parent)
        log.info("worker on port %d started (pid %d)", port, self.processes[port].pid)

    def run(self) -> int:
        """Start every worker and keep them running until asked to stop."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        for port in self.ports:
            self.start_worker(port)
        while not self.stopping:
            for port, process in list(self.processes.items()):
                if process.poll() is not None and not self.stopping:
                    log.warning("worker on port %d exited with %s; restarting", port, process.returncode)
                    time.sleep(RESTART_PAUSE)
                    if not self.stopping:
                        self.start_worker(port)
            time.sleep(0.2)
        return self._wait_all()

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    def _wait_all(self, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        return 0


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sockjs_gevent.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", help="module:name of a handler or WSGI app (as for python -m sockjs_gevent)")
    parser.add_argument("--version", action="version", version=f"sockjs-gevent {__version__}")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--base-port", type=int, default=9001)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--redis", help="redis:// URL of the channel bus shared by the workers")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cluster = Cluster(args.target, args.workers, args.host, args.base_port, args.prefix, args.redis)
    sys.exit(cluster.run())


if __name__ == "__main__":
    main()
