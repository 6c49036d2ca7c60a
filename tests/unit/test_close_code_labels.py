"""Close codes are counted under bounded labels (issue 23): standard codes as themselves, the rest grouped."""

from __future__ import annotations

import enum

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sockjs_gevent.stats import STANDARD_CLOSE_CODES, Stats, close_code_label

#: What the server sends itself (session.py, transports/websocket.py,
#: connection.Refuse, shutdown) and what a websocket peer reports.
SERVER_CODES = (1000, 1001, 1002, 1005, 1007, 1008, 1009, 1011, 1013, 2010, 3003)


@pytest.mark.parametrize("code", sorted({*SERVER_CODES, *range(1000, 1004), *range(1005, 1016)}))
def test_standard_codes_are_their_own_label(code):
    assert code in STANDARD_CLOSE_CODES
    assert close_code_label(code) == str(code)


@pytest.mark.parametrize(
    "code, label",
    [
        (3000, "3xxx"),
        (3001, "3xxx"),
        (3002, "3xxx"),
        (3004, "3xxx"),
        (3999, "3xxx"),
        (4000, "4xxx"),
        (4242, "4xxx"),
        (4999, "4xxx"),
        (1004, "other"),  # reserved by RFC 6455, defined as nothing
        (1016, "other"),
        (1999, "other"),
        (2000, "other"),
        (2009, "other"),
        (2011, "other"),
        (2999, "other"),
        (5000, "other"),
        (65535, "other"),
        (0, "other"),
        (999, "other"),
        (-1, "other"),
    ],
)
def test_other_codes_are_grouped(code, label):
    assert close_code_label(code) == label


@pytest.mark.parametrize("code", [None, "1000", 1000.0, 3000.5, True, False, b"1000"])
def test_what_is_not_an_int_is_other(code):
    assert close_code_label(code) == "other"


def test_an_int_enum_member_is_labelled_by_its_number():
    class Code(int, enum.Enum):
        NORMAL = 1000

    assert close_code_label(Code.NORMAL) == "1000"


def test_every_16_bit_code_falls_in_a_few_labels():
    labels = {close_code_label(code) for code in range(65536)}
    assert labels == {str(code) for code in STANDARD_CLOSE_CODES} | {"3xxx", "4xxx", "other"}
    assert len(labels) == len(STANDARD_CLOSE_CODES) + 3


def test_stats_closed_counts_by_label_so_its_keys_stay_few():
    stats = Stats()
    for code in range(65536):
        stats.closed(code)
    stats.closed(1000)
    assert len(stats.sessions_closed) == len(STANDARD_CLOSE_CODES) + 3
    assert stats.sessions_closed["3xxx"] == 1000 - 1  # 3003 is counted as itself
    assert stats.sessions_closed["4xxx"] == 1000
    assert stats.sessions_closed["3003"] == 1
    assert stats.sessions_closed["1000"] == 2
    assert stats.sessions_closed["other"] == 65536 - 2000 - len(STANDARD_CLOSE_CODES) + 1


def _service_with_closes(codes):
    from sockjs_gevent import SockJS

    service = SockJS(lambda conn: None, "/labels")
    for code in codes:
        service.stats.closed(code)
    return service


def test_the_json_stats_and_the_metrics_show_the_same_labels():
    from werkzeug.test import Client

    from sockjs_gevent.metrics import metrics_app

    codes = [1000, 1000, 1011, 3003, *range(3000, 3010), *range(4000, 4300), 7, 2999]
    service = _service_with_closes(codes)
    snapshot = service.stats.snapshot(service)["sessions_closed"]
    assert snapshot == {"1000": 2, "1011": 1, "3003": 2, "3xxx": 9, "4xxx": 300, "other": 2}

    text = Client(metrics_app(service, registry=None)).get("/metrics").get_data(as_text=True)
    series = {
        sample.labels["code"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "sockjs_sessions_closed"
        for sample in family.samples
        if sample.name == "sockjs_sessions_closed_total"
    }
    assert series == {code: float(n) for code, n in snapshot.items()}
