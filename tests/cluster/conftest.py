"""Fixtures of the cluster tests: real Redis, three workers and HAProxy per test.

- ``cluster``: HAProxy sticky by ``balance uri depth 2`` (the server_id
  segment), the default backend of examples/haproxy.cfg.
- ``cookie_cluster``: the same, with HAProxy on the JSESSIONID-cookie backend.
- ``sharded_cluster``: as ``cluster``, with channels on a Redis Cluster.

Each test gets its own processes (they start in about a second), so a test
that kills a worker or Redis leaves nothing behind. After the test, a
traceback or an ERROR in any worker's log fails it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.clusterproc import Cluster, start_cluster


def _run(backend: str, sharded: bool = False) -> Iterator[Cluster]:
    cluster = start_cluster(backend, sharded)
    try:
        yield cluster
    finally:
        cluster.stop()
    problems = cluster.problems()
    assert not problems, "workers logged errors:\n" + "\n".join(problems)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    yield from _run("workers")


@pytest.fixture
def sharded_cluster() -> Iterator[Cluster]:
    """As ``cluster``, with the workers' channels on a Redis Cluster (3 masters, 1 replica each)."""
    yield from _run("workers", sharded=True)


@pytest.fixture
def cookie_cluster() -> Iterator[Cluster]:
    yield from _run("workers_by_cookie")
