"""Broadcasts across three workers through HAProxy and Redis (one server, or a Redis Cluster), on every transport."""

from __future__ import annotations

import gevent
import pytest

from tests.cluster.clusterproc import WORKER_NAMES, Cluster
from tests.cluster.sessions import SERVER_NAME, TRANSPORTS, open_everywhere

pytestmark = pytest.mark.cluster

MESSAGES_PER_PUBLISHER = 40


@pytest.fixture(params=["redis", "redis-cluster"])
def any_bus(request: pytest.FixtureRequest) -> Cluster:
    """The three workers with their channels on one redis-server, then on a Redis Cluster."""
    return request.getfixturevalue("cluster" if request.param == "redis" else "sharded_cluster")


def test_every_session_gets_every_broadcast_once_and_in_order(any_bus: Cluster) -> None:
    cluster = any_bus
    sessions = open_everywhere(cluster, "/broadcast")
    # Each worker's own /stats confirms where HAProxy put the sessions.
    assert cluster.open_sessions("/broadcast") == {
        worker: {SERVER_NAME[t]: 1 for t in TRANSPORTS} for worker in WORKER_NAMES
    }
    # One publisher per worker, each on another transport, all at once.
    publishers = {
        "w1": sessions[("w1", "websocket")],
        "w2": sessions[("w2", "xhr-streaming")],
        "w3": sessions[("w3", "jsonp-polling")],
    }
    expected = {p: [f"{p}:{i}" for i in range(MESSAGES_PER_PUBLISHER)] + [f"{p}:end"] for p in publishers}

    def publish(name: str) -> None:
        for message in expected[name]:
            publishers[name].conn.send(message)
            gevent.sleep(0)

    gevent.joinall([gevent.spawn(publish, name) for name in publishers], raise_error=True)
    ends = {f"{p}:end" for p in publishers}
    for collector in sessions.values():
        collector.wait_for(lambda got: ends <= set(got), 20.0, "every publisher's last message")
    for collector in sessions.values():
        for publisher, sent in expected.items():
            got = [m for m in collector.messages if m.startswith(publisher + ":")]
            assert got == sent, f"{collector.label} got {publisher}'s messages out of order or not exactly once"
        assert len(collector.messages) == sum(map(len, expected.values())), f"{collector.label}: extra messages"
    for collector in sessions.values():
        collector.close()


def test_publish_skips_the_sender_and_send_to_reaches_one_connection_on_another_worker(any_bus: Cluster) -> None:
    """/rooms: each message to everyone else in the room; 'to ID TEXT' to one connection, via Redis."""
    cluster = any_bus
    sessions = open_everywhere(cluster, "/rooms")
    sender, target = sessions[("w1", "websocket")], sessions[("w3", "xhr-streaming")]
    target.conn.send("id?")
    target.wait_for(lambda got: any(m.startswith("id ") for m in got), 10.0, "its own id")
    target_id = next(m for m in target.messages if m.startswith("id "))[3:]
    sender.conn.send("hello all")
    sender.conn.send(f"to {target_id} just you")
    for collector in sessions.values():
        if collector is target:
            collector.wait_for(lambda got: "just you" in got, 20.0, "the direct message")
        elif collector is not sender:
            collector.wait_for(lambda got: "hello all" in got, 20.0, "the room message")
    sender.conn.send("marker")  # after everything above, in order: others get it, the sender never
    for collector in sessions.values():
        if collector is not sender:
            collector.wait_for(lambda got: "marker" in got, 20.0, "the marker")
            assert "just you" not in collector.messages or collector is target
    assert "hello all" not in sender.messages and "marker" not in sender.messages
    for collector in sessions.values():
        collector.close()
