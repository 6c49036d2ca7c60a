"""Production shape on one machine: nginx in front of gunicorn workers, channels over Redis.

- Channels cross gunicorn workers through Redis: two xhr-polling sessions
  whose ids hash to different workers' slots (so each is held by its own
  worker, whatever worker accepts the connection) join /broadcast; what
  one sends, the other receives.
- locust (loadtests/) through nginx -> gunicorn -w 2 with every
  transport's user class: samples of every kind, zero failures.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.redisservers import RedisServer
from testkit.serverproc import poll_until
from tests.deploy.gunicornproc import Gunicorn, session_in_slot, start_gunicorn
from tests.deploy.nginxproc import problems, start_nginx
from tests.test_loadtest_smoke import KINDS, TRANSPORTS, read_stats, run_locust

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None or shutil.which("nginx") is None,
    reason="needs redis-server and nginx (scripts/apt-packages.txt)",
)


@pytest.fixture
def redis_url() -> Iterator[str]:
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def workers(redis_url: str) -> Iterator[Gunicorn]:
    # keepalive as examples/gunicorn.conf.py: above nginx's upstream keepalive_timeout (gunicorn's own 2 s
    # would close connections nginx is about to reuse, and nginx answers 502 to a POST sent on one).
    running = start_gunicorn(
        "--keep-alive",
        "30",
        workers=2,
        env={"SOCKJS_GEVENT_REDIS_URL": redis_url, "DISCONNECT_DELAY": "5", "HEARTBEAT_DELAY": "1"},
    )
    yield running
    running.stop()
    assert "Traceback" not in running.log(), running.log()


def test_a_broadcast_reaches_a_session_another_gunicorn_worker_holds(workers):
    first, second = session_in_slot(0), session_in_slot(1)
    for sid in (first, second):
        assert workers.post(f"/broadcast/000/{sid}/xhr") == (200, b"o\n")

    def delivered() -> bool:
        assert workers.post(f"/broadcast/000/{first}/xhr_send", json.dumps(["across"]))[0] == 204
        status, body = workers.post(f"/broadcast/000/{second}/xhr")
        return status == 200 and b"across" in body

    # The second session's worker subscribes to the room when its handler joins, a moment after "o":
    # probe until a broadcast crosses, then one more must cross at once.
    poll_until(delivered, 10.0, "a broadcast to cross to the other worker")
    assert delivered()


def test_locust_through_nginx_and_two_gunicorn_workers_fails_nothing(workers, tmp_path: Path):
    nginx = start_nginx([(workers.host, workers.port)])
    nginx.backends = []
    try:
        result = run_locust(nginx.base_url, tmp_path / "deploy", timeout=40)
    finally:
        nginx.stop()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    rows, failures = read_stats(tmp_path / "deploy")
    assert failures == [], output
    assert rows[("", "Aggregated")]["Failure Count"] == "0", output
    for kind in KINDS:
        for transport in TRANSPORTS:
            row = rows.get((kind, transport))
            assert row is not None and int(row["Request Count"]) > 0, f"no {kind!r} samples over {transport}\n{output}"
    assert not problems(nginx), problems(nginx)
