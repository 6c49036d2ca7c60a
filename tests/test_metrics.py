"""Prometheus metrics: the stats counters in the text format, read back with prometheus_client's parser."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sockjs_gevent.client import connect
from testkit.serverproc import ROOT, poll_until

TRANSPORTS = ("websocket", "xhr-streaming", "eventsource", "htmlfile", "xhr-polling", "jsonp-polling", "raw-websocket")


def scrape_text(base_url: str) -> tuple[str, str]:
    """(Content-Type, body) of GET /metrics."""
    with urllib.request.urlopen(base_url + "/metrics", timeout=5) as response:
        return response.headers["Content-Type"], response.read().decode()


def parse(text: str) -> tuple[dict[str, str], dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """({family: type}, {(sample name, sorted labels): value}) of an exposition."""
    types, samples = {}, {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return types, samples


def value(samples, name: str, **labels: str) -> float:
    return samples[name, tuple(sorted(labels.items()))]


def test_metrics_count_real_sessions_messages_and_problems(server_factory):
    server = server_factory()
    content_type, text = scrape_text(server.base_url)
    assert content_type.startswith("text/plain; version=0.0.4")
    types, samples = parse(text)
    assert types == {
        **{name: types[name] for name in types if not name.startswith("sockjs_")},  # process_*, python_*
        "sockjs_sessions_open": "gauge",
        "sockjs_sessions_registered": "gauge",
        "sockjs_sessions_opened": "counter",
        "sockjs_sessions_closed": "counter",
        "sockjs_messages_received": "counter",
        "sockjs_messages_sent": "counter",
        "sockjs_problems": "counter",
        "sockjs_buffered_bytes": "gauge",
        "sockjs_buffered_bytes_limit": "gauge",
    }
    assert "process_start_time_seconds" in types  # the default registry comes along
    # Every transport and known problem kind has its series before anything happened.
    for transport in TRANSPORTS:
        assert value(samples, "sockjs_sessions_open", service="/echo", transport=transport) == 0
        assert value(samples, "sockjs_sessions_opened_total", service="/echo", transport=transport) == 0
    assert value(samples, "sockjs_problems_total", service="/crash", kind="handler") == 0
    assert not [key for key in samples if key[0] == "sockjs_sessions_closed_total"]

    ws = connect(server.url("/echo"), transport="websocket")
    poll = connect(server.url("/echo"), transport="xhr-polling")
    for conn in (ws, poll):
        for text in ("a", "b"):
            conn.send(text)
            assert conn.recv(timeout=5) == text
    crash = connect(server.url("/crash"), transport="xhr-streaming")
    crash.send("boom")
    assert crash.recv(timeout=5) is None

    _, samples = parse(scrape_text(server.base_url)[1])
    assert value(samples, "sockjs_sessions_open", service="/echo", transport="websocket") == 1
    assert value(samples, "sockjs_sessions_open", service="/echo", transport="xhr-polling") == 1
    assert value(samples, "sockjs_sessions_registered", service="/echo") == 1  # the polling one
    assert value(samples, "sockjs_sessions_opened_total", service="/echo", transport="websocket") == 1
    assert value(samples, "sockjs_sessions_opened_total", service="/echo", transport="xhr-polling") == 1
    assert value(samples, "sockjs_messages_received_total", service="/echo") == 4
    assert value(samples, "sockjs_messages_sent_total", service="/echo") == 4
    assert value(samples, "sockjs_problems_total", service="/crash", kind="handler") == 1
    assert value(samples, "sockjs_sessions_closed_total", service="/crash", code="1011") == 1
    assert value(samples, "sockjs_sessions_opened_total", service="/crash", transport="xhr-streaming") == 1

    ws.close()
    poll.close()

    def echo_closed():
        _, samples = parse(scrape_text(server.base_url)[1])
        if (
            value(samples, "sockjs_sessions_open", service="/echo", transport="websocket") == 0
            and value(samples, "sockjs_sessions_open", service="/echo", transport="xhr-polling") == 0
        ):
            return samples
        return None

    samples = poll_until(echo_closed, 10.0, "the /echo sessions to close on the server")
    closed = {
        dict(labels)["code"]: v
        for (name, labels), v in samples.items()
        if name == "sockjs_sessions_closed_total" and dict(labels)["service"] == "/echo"
    }
    assert sum(closed.values()) == 2, closed
    # The counters stay where they were: a closed session is still counted as opened.
    assert value(samples, "sockjs_sessions_opened_total", service="/echo", transport="websocket") == 1
    assert value(samples, "sockjs_messages_received_total", service="/echo") == 4
    # The JSON stats and the metrics tell the same story.
    with urllib.request.urlopen(server.url("/stats"), timeout=5) as response:
        echo = json.loads(response.read())["/echo"]
    assert {code: float(n) for code, n in echo["sessions_closed"].items()} == closed


def test_metrics_of_one_service_alone_and_the_name_filter():
    from werkzeug.test import Client

    from sockjs_gevent import SockJS
    from sockjs_gevent.metrics import metrics_app

    service = SockJS(lambda conn: None, "/alone")
    service.stats.messages_in = 3
    client = Client(metrics_app(service, registry=None))
    types, samples = parse(client.get("/metrics").get_data(as_text=True))
    assert all(name.startswith("sockjs_") for name in types)
    assert value(samples, "sockjs_messages_received_total", service="/alone") == 3
    picked = client.get("/metrics?name[]=sockjs_messages_received_total").get_data(as_text=True)
    assert list(parse(picked)[0]) == ["sockjs_messages_received"]


def test_two_services_on_one_prefix_are_refused():
    from sockjs_gevent import SockJS
    from sockjs_gevent.metrics import metrics_app

    with pytest.raises(ValueError, match="prefix '/same'"):
        metrics_app(SockJS(lambda conn: None, "/same"), SockJS(lambda conn: None, "/same"))


def test_without_prometheus_client_the_error_names_the_extra():
    """Importing sockjs_gevent needs no prometheus_client; using the metrics says how to get it."""
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"  # as if not installed
        "import sockjs_gevent, sockjs_gevent.metrics\n"
        "from sockjs_gevent import SockJS\n"
        "try:\n"
        "    sockjs_gevent.metrics.metrics_app(SockJS(lambda conn: None, '/x'))\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "from werkzeug.test import Client\n"
        "from sockjs_gevent.testserver import build\n"
        "response = Client(build()).get('/metrics')\n"
        "print(response.status_code, response.get_data(as_text=True))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "pip install 'sockjs-gevent[prometheus]'" in lines[0]
    assert lines[1].startswith("501 ") and "sockjs-gevent[prometheus]" in lines[1]
