"""Real Redis, sockjs-gevent workers and HAProxy as subprocesses on 127.0.0.1.

``start_cluster()`` starts a ``redis-server`` on a free port
(testkit.redisservers.RedisServer, also imported from here), three workers
(``python -m sockjs_gevent sockjs_gevent.testserver:build``: the test
services, with channels on that Redis) and HAProxy with
examples/haproxy.cfg in front of them. Readiness is waited for on ready
lines (Redis, workers) or by polling HTTP (HAProxy), never by sleeping.
HAProxy runs with SOCKJS_SERVED_BY set, so every response names its worker
in ``X-Served-By``; ``Cluster.worker_of`` uses it to learn where a
server_id lands.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from typing import TypeVar

import gevent

from sockjs_gevent.client.http import HttpClient, HttpError
from testkit.redisservers import RedisCluster, RedisServer, free_port
from testkit.serverproc import ROOT, poll_until, spawn, stop_process

HAPROXY_CFG = os.path.join(ROOT, "examples", "haproxy.cfg")
WORKER_NAMES = ("w1", "w2", "w3")
START_TIMEOUT = 20.0
WORKER_READY = re.compile(r"listening on http://([\d.]+):(\d+)")
T = TypeVar("T")


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.02) -> object:
    """Poll ``predicate`` until it returns something true; AssertionError after ``timeout``.

    gevent.sleep between polls lets the clients' greenlets run.
    """
    return poll_until(predicate, timeout, what, interval, sleep=gevent.sleep)


def in_threadpool(wait: Callable[[], T]) -> T:
    """Run a blocking wait in gevent's thread pool, so greenlets (the tests' client sessions) run meanwhile."""
    return gevent.get_hub().threadpool.apply(wait)


class Proc:
    """A subprocess (testkit.serverproc.spawn) whose merged output can be waited on while greenlets run."""

    def __init__(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.process, self.out = spawn(args, env)

    @property
    def lines(self) -> list[str]:
        return self.out.lines

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_for(self, pattern: re.Pattern[str] | str, timeout: float = START_TIMEOUT, start: int = 0) -> re.Match[str]:
        """The first match of ``pattern`` in the output from line ``start`` on; waits for it.

        The wait runs in gevent's thread pool, so greenlets (the tests'
        client sessions) keep running meanwhile.
        """
        try:
            return in_threadpool(lambda: self.out.wait_for(pattern, timeout, start))
        except AssertionError as exc:
            raise AssertionError(f"{self.name}: {exc}") from None

    def log(self) -> str:
        return self.out.text()

    def kill(self) -> None:
        """SIGKILL, and reap."""
        if self.alive:
            self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM; SIGKILL if it lingers."""
        stop_process(self.process, timeout)


class Worker:
    """One ``python -m sockjs_gevent sockjs_gevent.testserver:build`` process."""

    def __init__(self, name: str, redis_url: str) -> None:
        self.name = name
        self.proc = Proc(
            name,
            [
                sys.executable,
                "-m",
                "sockjs_gevent",
                "sockjs_gevent.testserver:build",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ],
            env={"SOCKJS_GEVENT_REDIS_URL": redis_url},
        )
        self.port = 0

    def wait_ready(self) -> Worker:
        self.port = int(self.proc.wait_for(WORKER_READY).group(2))
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stats(self) -> dict:
        """GET /stats straight from the worker (not through HAProxy)."""
        return json.loads(http_get("127.0.0.1", self.port, "/stats")[1])

    def metrics(self) -> str:
        """GET /metrics straight from the worker, as Prometheus scrapes it (one target per worker)."""
        status, body, _ = http_get("127.0.0.1", self.port, "/metrics")
        assert status == 200, f"{self.name} answered /metrics with {status}: {body[:200]!r}"
        return body.decode()


def http_get(host: str, port: int, path: str) -> tuple[int, bytes, str | None]:
    """(status, body, X-Served-By) of one GET on a fresh connection."""
    http = HttpClient(host, port, timeout=5.0)
    try:
        response = http.request("GET", path)
        return response.status, http.read_body(), response.header("X-Served-By")
    finally:
        http.close()


class Cluster:
    """Redis + three workers + HAProxy; ``url(path)`` goes through HAProxy.

    ``sharded``: the workers' channels go through a Redis Cluster
    (``redis+cluster://``: SPUBLISH/SSUBSCRIBE) instead of one redis-server.
    """

    def __init__(self, backend: str = "workers", sharded: bool = False) -> None:
        if not (shutil.which("haproxy") and shutil.which("redis-server")):
            raise RuntimeError("the cluster tests need haproxy and redis-server (scripts/apt-packages.txt)")
        self.backend = backend
        self.redis = RedisServer(blocking=in_threadpool)
        self.sharded = RedisCluster() if sharded else None
        self.workers: dict[str, Worker] = {}
        self.haproxy: Proc | None = None
        self.port = free_port()
        self._placement: dict[tuple[str, str], str] = {}

    @property
    def bus_url(self) -> str:
        """What the workers get as SOCKJS_GEVENT_REDIS_URL."""
        if self.sharded is not None:
            return "redis+cluster://" + self.sharded.url.removeprefix("redis://")
        return self.redis.url

    def start(self) -> Cluster:
        if self.sharded is not None:
            self.sharded.start()
        else:
            self.redis.start()
        # All three start at once; then their ready lines are awaited in turn.
        self.workers = {name: Worker(name, self.bus_url) for name in WORKER_NAMES}
        for worker in self.workers.values():
            worker.wait_ready()
        env = {f"SOCKJS_WORKER{i + 1}": self.workers[name].address for i, name in enumerate(WORKER_NAMES)}
        env.update(
            SOCKJS_HAPROXY_BIND=f"127.0.0.1:{self.port}",
            SOCKJS_URI_DEPTH="2",
            SOCKJS_BACKEND=self.backend,
            SOCKJS_SERVED_BY="1",
        )
        self.haproxy = Proc("haproxy", ["haproxy", "-db", "-f", HAPROXY_CFG], env=env)
        wait_until(self._haproxy_answers, START_TIMEOUT, "HAProxy to answer")
        return self

    def _haproxy_answers(self) -> bool:
        assert self.haproxy is not None
        if not self.haproxy.alive:
            raise AssertionError("haproxy exited:\n" + self.haproxy.log())
        try:
            status, _, served_by = http_get("127.0.0.1", self.port, "/echo/info")
        except HttpError:
            return False
        return status == 200 and served_by in WORKER_NAMES

    def stop(self) -> None:
        if self.haproxy is not None:
            self.haproxy.stop()
        for worker in self.workers.values():
            worker.proc.stop()
        self.redis.stop()
        if self.sharded is not None:
            self.sharded.stop()

    # -- addressing ---------------------------------------------------------

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def worker_of(self, prefix: str, server_id: str) -> str:
        """The worker HAProxy sends ``prefix/server_id/...`` to (asked once, then remembered).

        Asks with an xhr_send to a session nobody has: every worker answers
        404 without side effects, and HAProxy names the one it chose.
        """
        key = (prefix, server_id)
        if key not in self._placement:
            http = HttpClient("127.0.0.1", self.port, timeout=5.0)
            try:
                response = http.request("POST", f"{prefix}/{server_id}/probe/xhr_send", body=b"[]")
                http.read_body()
            finally:
                http.close()
            assert response.status == 404, f"probe of {prefix}/{server_id} answered {response.status}"
            served_by = response.header("X-Served-By")
            assert served_by in WORKER_NAMES, f"no X-Served-By on the probe: {served_by!r}"
            self._placement[key] = served_by
        return self._placement[key]

    def server_ids(self, prefix: str, per_worker: int = 1) -> dict[str, list[str]]:
        """``per_worker`` server_ids that land on each worker, by worker name."""
        found: dict[str, list[str]] = {name: [] for name in WORKER_NAMES}
        for n in range(1000):
            server_id = f"{n:03d}"
            bucket = found[self.worker_of(prefix, server_id)]
            if len(bucket) < per_worker:
                bucket.append(server_id)
            if all(len(ids) == per_worker for ids in found.values()):
                return found
        raise AssertionError(f"server_ids do not spread over the workers: {found}")

    def open_sessions(self, prefix: str) -> dict[str, dict[str, int]]:
        """Sessions open now on ``prefix`` by worker, by transport (each worker's /stats)."""
        return {name: w.stats()[prefix]["sessions_open"] for name, w in self.workers.items() if w.proc.alive}

    def problems(self) -> list[str]:
        """Tracebacks and errors the workers logged (an unexpected crash)."""
        return [
            f"{w.name}: {line.rstrip()}"
            for w in self.workers.values()
            for line in w.proc.lines
            if "Traceback" in line or " ERROR " in line or " CRITICAL " in line
        ]


def start_cluster(backend: str = "workers", sharded: bool = False) -> Cluster:
    """A started Cluster (stopped again if any part fails to start)."""
    cluster = Cluster(backend, sharded)
    try:
        return cluster.start()
    except BaseException:
        cluster.stop()
        raise
