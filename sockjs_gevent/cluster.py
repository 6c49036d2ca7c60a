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
that dies is restarted (after a short pause), except one that fails with a
configuration error (exit status 2 before it is ready: a target that does
not import, a port it cannot bind), which stops all with status 2, as a
restart cannot help; SIGTERM or SIGINT stops all.
Put HAProxy in front (examples/haproxy.cfg) with sticky routing by the
server_id path segment or the JSESSIONID cookie.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from .buildinfo import version_line
from .cli import CommandLineParser, port_number, positive_int
from .server import LOG_FORMAT
from .workers import Supervisor

log = logging.getLogger("sockjs_gevent.cluster")
RESTART_PAUSE = 1.0


class Cluster(Supervisor):
    """N ``python -m sockjs_gevent`` workers on consecutive ports.

    A worker that dies is restarted; one that fails with a configuration
    error (exit status 2 before it is ready, e.g. a target that does not
    import) stops them all with status 2: see ``workers.Supervisor``.
    """

    restart_pause = RESTART_PAUSE

    def __init__(
        self, target: str, workers: int, host: str, base_port: int, prefix: str = "", redis: str | None = None
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.target = target
        self.host = host
        self.ports = [base_port + i for i in range(workers)]
        self.prefix = prefix
        env = dict(os.environ)
        if redis:
            env["SOCKJS_GEVENT_REDIS_URL"] = redis
        super().__init__(workers, env)

    def command(self, index: int) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "sockjs_gevent",
            self.target,
            "--host",
            self.host,
            "--port",
            str(self.ports[index]),
        ]
        return cmd + (["--prefix", self.prefix] if self.prefix else [])

    def name(self, index: int) -> str:
        return f"worker on port {self.ports[index]}"

    def start(self, index: int) -> None:
        super().start(index)
        process = self.processes[index]
        assert process is not None
        log.info("worker on port %d started (pid %d)", self.ports[index], process.pid)

    def run(self) -> int:
        """Start every worker and keep them running until asked to stop (0) or one cannot start (2)."""
        self._install_signals()
        for index in range(self.count):
            self.start(index)
        while not self.stopping and self._watch():
            time.sleep(0.2)
        return self._wait_all()


def main(argv: list[str] | None = None) -> None:
    parser = CommandLineParser(
        prog="python -m sockjs_gevent.cluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", help="module:name of a handler or WSGI app (as for python -m sockjs_gevent)")
    parser.add_argument("--version", action="version", version=version_line())
    parser.add_argument(
        "--workers", type=positive_int, default=os.cpu_count() or 1, help="worker processes (default: one per CPU)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address the workers listen on (default 127.0.0.1)")
    parser.add_argument(
        "--base-port",
        type=port_number,
        default=9001,
        help="worker i listens on base-port + i (default 9001; 0: each picks a free port)",
    )
    parser.add_argument("--prefix", default="", help="base URL when TARGET is a handler, e.g. /echo")
    parser.add_argument(
        "--redis",
        help="redis:// URL (or redis+cluster://host:port, a Redis Cluster) of the channel bus shared by the workers",
    )
    args = parser.parse_args(argv)
    if args.base_port and args.base_port + args.workers - 1 > 65535:
        parser.error(f"--base-port {args.base_port} with {args.workers} workers goes past port 65535")
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    cluster = Cluster(args.target, args.workers, args.host, args.base_port, args.prefix, args.redis)
    sys.exit(cluster.run())


if __name__ == "__main__":
    main()
