"""Faults in a cluster: a worker killed, Redis restarted."""

from __future__ import annotations

import pytest

from sockjs_gevent.client import ConnectError
from tests.cluster.clusterproc import WORKER_NAMES, Cluster, wait_until
from tests.cluster.sessions import (
    SERVER_NAME,
    TRANSPORTS,
    Collector,
    open_everywhere,
    open_session,
    send_until_received,
)

pytestmark = pytest.mark.cluster


def broadcast_and_check(publisher: Collector, receivers: list[Collector], message: str, timeout: float = 10.0) -> None:
    """``message`` from ``publisher`` reaches every receiver."""
    publisher.conn.send(message)
    for collector in receivers:
        collector.wait_for(lambda got: message in got, timeout, repr(message))


def test_killing_a_worker_closes_only_its_own_sessions(cluster: Cluster) -> None:
    sessions = open_everywhere(cluster, "/broadcast")
    victim, survivors = "w2", ("w1", "w3")
    mine = [c for (w, _), c in sessions.items() if w == victim]
    others = [c for (w, _), c in sessions.items() if w != victim]
    broadcast_and_check(sessions[("w2", "websocket")], list(sessions.values()), "before")

    cluster.workers[victim].proc.kill()
    for collector in mine:
        code, reason = collector.wait_closed(10.0)
        assert code == 1006, f"{collector.label} closed with {code} {reason!r}"
    assert all(not c.conn.closed for c in others)

    # Once HAProxy's health check marks the worker down, its server_ids move
    # to the survivors ("hash-type consistent"); the survivors' stay put.
    victim_id = cluster.server_ids("/broadcast")[victim][0]
    url = cluster.url("/broadcast")

    def reopened() -> Collector | None:
        try:
            return Collector(open_session(url, "xhr-polling", victim_id, timeout=2.0), "moved xhr-polling")
        except ConnectError:
            return None  # HAProxy still tries the dead worker: 503

    moved = wait_until(reopened, 15.0, "HAProxy to send the dead worker's server_id elsewhere")
    broadcast_and_check(sessions[("w1", "xhr-polling")], [*others, moved], "after from w1")
    broadcast_and_check(sessions[("w3", "jsonp-polling")], [*others, moved], "after from w3")
    assert all(not c.conn.closed for c in others)
    assert cluster.workers["w1"].proc.alive and cluster.workers["w3"].proc.alive
    # The survivors' sessions never moved (a moved polling session would have
    # been opened anew elsewhere): each survivor opened its own four, and one
    # of them the moved session.
    expected = {SERVER_NAME[t]: 1 for t in TRANSPORTS}
    opened = {w: cluster.workers[w].stats()["/broadcast"]["sessions_opened"] for w in survivors}
    assert sorted(opened.values(), key=lambda o: o["xhr-polling"]) == [expected, {**expected, "xhr-polling": 2}]
    assert sorted(cluster.open_sessions("/broadcast").values(), key=lambda o: o["xhr-polling"]) == [
        expected,
        {**expected, "xhr-polling": 2},
    ]
    for collector in [*others, moved]:
        collector.close()


def test_redis_restart_local_delivery_continues_and_cross_worker_resumes(cluster: Cluster) -> None:
    sessions = {
        (w, t): Collector(open_session(cluster.url("/broadcast"), t, sid), f"{t}@{w}")
        for w, (sid,) in cluster.server_ids("/broadcast").items()
        for t in ("websocket", "xhr-polling")
    }
    by_worker = {w: [c for (cw, _), c in sessions.items() if cw == w] for w in WORKER_NAMES}
    everyone = list(sessions.values())
    publisher = {w: sessions[(w, "websocket")] for w in WORKER_NAMES}
    broadcast_and_check(publisher["w1"], everyone, "before")
    marks = {w: len(worker.proc.lines) for w, worker in cluster.workers.items()}

    cluster.redis.stop()
    for name, worker in cluster.workers.items():
        worker.proc.wait_for("redis subscription lost", 10.0, start=marks[name])
    # Redis down: each worker still delivers its own publishes.
    for w in WORKER_NAMES:
        broadcast_and_check(publisher[w], by_worker[w], f"during from {w}")
    assert all(worker.proc.alive for worker in cluster.workers.values())

    cluster.redis.start()  # same port
    for name, worker in cluster.workers.items():
        worker.proc.wait_for("subscribed to", 15.0, start=marks[name])

    # Cross-worker delivery is back by itself: probe until w1's publish reaches w2 and w3.
    send_until_received(publisher["w1"], by_worker["w2"] + by_worker["w3"], "probe", 15.0)
    for w in WORKER_NAMES:
        broadcast_and_check(publisher[w], everyone, f"after from {w}")
    # What was published during the outage reached its own worker only: it
    # is not replayed late to the others.
    for w in WORKER_NAMES:
        for other in WORKER_NAMES:
            if other != w:
                assert all(f"during from {w}" not in c.messages for c in by_worker[other])
    assert all(not c.conn.closed for c in everyone)
    for collector in everyone:
        collector.close()
