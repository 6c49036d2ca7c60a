"""Fixtures of the Redis channel tests: real Redis (a server or a cluster) and hubs in subprocesses.

- ``redis_server``: a fresh ``redis-server`` per test;
- ``redis_cluster``: one Redis Cluster (3 masters, 1 replica each) per test
  module, since it takes about two seconds to form; a test that kills or
  reshapes nodes takes its own from ``redis_cluster_factory``;
- ``hubs``: ``hubs(url, n=2, backend="redis", **options)`` starts ``n``
  hubproc processes (options are the backend's) and waits until each says
  it is connected (``expect_connected=False``: until each is ready, with
  ``ready_timeout`` s for the backend to connect). After the test all are stopped, and a "Traceback" in any
  hub's log fails the test, unless it is marked
  ``@pytest.mark.expect_traceback``.

Modules that use them mark their tests ``pytest.mark.cluster`` (they start Redis).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from testkit.redisservers import RedisCluster, RedisServer
from tests.channels_redis.hubs import Hub, start_hubs

HubsFactory = Callable[..., list[Hub]]
ClusterFactory = Callable[..., RedisCluster]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "expect_traceback: a Redis channel test expects a Traceback in a hub's log")


def _need(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (scripts/apt-packages.txt)")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A started ``redis-server`` of this test's own."""
    _need("redis-server")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_cluster_factory() -> Iterator[ClusterFactory]:
    """Start Redis Clusters (``RedisCluster``'s arguments) of this test's own; stopped after it."""
    _need("redis-server", "redis-cli")
    started: list[RedisCluster] = []

    def factory(**how: Any) -> RedisCluster:
        cluster = RedisCluster(**how)
        started.append(cluster)
        return cluster.start()

    yield factory
    for cluster in started:
        cluster.stop()


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisCluster]:
    """One Redis Cluster (3 masters, 1 replica each) shared by the tests of a module: leave its nodes be."""
    _need("redis-server", "redis-cli")
    with RedisCluster() as cluster:
        yield cluster


@pytest.fixture
def hubs(request: pytest.FixtureRequest) -> Iterator[HubsFactory]:
    """Start hubs: ``hubs(url, n=2, backend="redis", **options)``; stopped after the test, their logs checked."""
    started: list[Hub] = []

    def factory(
        url: str, n: int = 2, backend: str = "redis", *, expect_connected: bool = True, **options: Any
    ) -> list[Hub]:
        new = start_hubs(url, n, backend, **options)
        for hub in new:
            hub.name = f"hub{len(started)}"
            started.append(hub)
        for hub in new:
            if expect_connected:
                assert hub.ready.get("connected"), f"{hub.name} did not connect to {url}\n{hub.log_tail()}"
        return new

    yield factory
    for hub in started:
        hub.stop()
    if request.node.get_closest_marker("expect_traceback") is None:
        crashed = [hub for hub in started if "Traceback" in hub.log()]
        assert not crashed, "hubs logged a traceback:\n" + "\n".join(hub.log_tail(80) for hub in crashed)
