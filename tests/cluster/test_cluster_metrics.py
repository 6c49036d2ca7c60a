"""Prometheus with several workers: each worker is its own scrape target.

Every worker's /metrics counts only that worker's sessions (the design the
README explains: no shared directory, no aggregation in the workers;
Prometheus labels each target's series with its ``instance`` and sums across
them). HAProxy refuses /metrics and /stats, so the public side never sees
them and no scrape lands on a random worker.
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster.clusterproc import WORKER_NAMES, Cluster, http_get
from tests.cluster.sessions import Collector, open_session

pytestmark = pytest.mark.cluster


def samples(text: str, name: str, service: str | None = None) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples called ``name`` of ``service`` (None: without one), by their other labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            if sample.name == name and labels.pop("service", None) == service:
                found[tuple(sorted(labels.items()))] = sample.value
    return found


def test_each_worker_reports_its_own_sessions_and_haproxy_hides_the_endpoints(cluster: Cluster) -> None:
    ids = cluster.server_ids("/echo")
    # w1 gets one websocket session, w2 two xhr-streaming ones, w3 none.
    wanted = {"w1": ["websocket"], "w2": ["xhr-streaming", "xhr-streaming"], "w3": []}
    sessions = [
        Collector(open_session(cluster.url("/echo"), transport, ids[worker][0]), f"{transport}@{worker}")
        for worker, transports in wanted.items()
        for transport in transports
    ]
    try:
        for n, session in enumerate(sessions):
            session.conn.send(f"m{n}")
            session.wait_for(lambda got, n=n: f"m{n}" in got, 10.0, f"the echo of m{n}")

        scraped = {name: cluster.workers[name].metrics() for name in WORKER_NAMES}
        for name, transports in wanted.items():
            open_now = samples(scraped[name], "sockjs_sessions_open", "/echo")
            expected = {t: float(transports.count(t)) for t in ("websocket", "xhr-streaming", "xhr-polling")}
            assert {t: open_now[(("transport", t),)] for t in expected} == expected, name
            received = samples(scraped[name], "sockjs_messages_received_total", "/echo")
            assert received == {(): float(len(transports))}, name
        # What a sum() over the targets gives in Prometheus: the whole cluster.
        total = sum(v for text in scraped.values() for v in samples(text, "sockjs_sessions_open", "/echo").values())
        assert total == len(sessions)
        # Each worker is a process of its own: its own start time (restarts show there).
        starts = {name: samples(text, "process_start_time_seconds") for name, text in scraped.items()}
        assert all(start[()] > 0 for start in starts.values()), "process metrics come along with the sockjs ones"

        # Through HAProxy the operator endpoints are refused, however the path is spelled.
        for path in ("/metrics", "/stats", "/%6Detrics", "/metrics?name[]=sockjs_sessions_open"):
            status, _, _ = http_get("127.0.0.1", cluster.port, path)
            assert status == 403, f"{path} through HAProxy answered {status}"
    finally:
        for session in sessions:
            session.close()
