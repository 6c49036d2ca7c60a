"""Bad input: a clear answer, the connection closed, the app never called, at most one log line."""

from __future__ import annotations

import logging

import pytest
from gevent.event import Event

from sockjs_gevent.http import HttpConfig
from tests.http.httpwire import Wire, assert_serves, hello, settle

H = b"Host: t\r\n"
BAD = [
    ("garbage request line", b"HELLO\r\n\r\n", 400),
    ("lower-case method", b"get / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("HTTP/0.9 request line", b"GET /\r\n" + H + b"\r\n", 505),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\n" + H + b"\r\n", 505),
    ("space before colon", b"GET / HTTP/1.1\r\n" + H + b"X-A : b\r\n\r\n", 400),
    ("header without colon", b"GET / HTTP/1.1\r\n" + H + b"Bad header line\r\n\r\n", 400),
    ("obsolete line folding", b"GET / HTTP/1.1\r\n" + H + b"X-A: b\r\n  folded\r\n\r\n", 400),
    ("NUL in a header value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400),
    ("CR in a header value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", 400),
    ("bare LF line ends", b"GET / HTTP/1.1\n" + H + b"\n", 400),
    ("HTTP/1.1 without Host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two Host headers", b"GET / HTTP/1.1\r\n" + H + H + b"\r\n", 400),
    (
        "Content-Length and Transfer-Encoding",
        b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "Transfer-Encoding and Content-Length",
        b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "duplicate Content-Length",
        b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        400,
    ),
    (
        "differing Content-Length",
        b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        400,
    ),
    ("Content-Length 1_0", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1_0\r\n\r\nabc", 400),
    ("Content-Length +10", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +10\r\n\r\nabc", 400),
    ("Content-Length 3,3", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3,3\r\n\r\nabc", 400),
    ("Content-Length -1", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\nabc", 400),
    ("Transfer-Encoding gzip", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\nabc", 400),
    (
        "Transfer-Encoding gzip, chunked",
        b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "Transfer-Encoding twice",
        b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    ("Transfer-Encoding on HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("bad chunk size", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    (
        "chunk size overflow",
        b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
        400,
    ),
    ("unknown expectation", b"GET / HTTP/1.1\r\n" + H + b"Expect: magic\r\n\r\n", 417),
    ("URL longer than 8 KiB", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414),
    (
        "header block past 16 KiB",
        b"GET / HTTP/1.1\r\n" + H + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 900) for i in range(20)) + b"\r\n",
        431,
    ),
    ("one huge header", b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"v" * 70000 + b"\r\n\r\n", 431),
    ("101 headers", b"GET / HTTP/1.1\r\n" + H + b"".join(b"X-%d: v\r\n" % i for i in range(100)) + b"\r\n", 431),
    ("body over max_body_size", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 2000\r\n\r\n" + b"x" * 2000, 413),
]


@pytest.fixture
def server(start_server):
    calls = []
    called = Event()

    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        called.set()
        environ["wsgi.input"].read()
        return hello(environ, start_response)

    server = start_server(app, HttpConfig(max_body_size=1000, linger_timeout=0.2, header_timeout=2.0))
    server.calls = calls
    server.called = called
    return server


@pytest.mark.parametrize("data,status", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_requests_get_a_clear_answer_and_a_closed_connection(server, caplog, data, status):
    caplog.set_level(logging.DEBUG, logger="sockjs_gevent.http")
    wire = Wire(server)
    wire.send(data)
    head, body = wire.response()
    assert head.status == status, body
    assert head.header("Connection") == "close" and body
    assert wire.read_to_close() == b""
    settle(server)
    assert server.calls == []
    assert len([r for r in caplog.records if r.name.startswith("sockjs_gevent")]) <= 1
    assert_serves(server)


def test_a_chunked_body_over_max_body_size_is_413(server):
    wire = Wire(server)
    wire.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(5):
        wire.send(b"12c\r\n" + b"x" * 300 + b"\r\n")
    head, _ = wire.response()
    assert head.status == 413
    assert wire.read_to_close() == b""


def test_requests_before_a_bad_one_are_answered_first(server):
    wire = Wire(server)
    wire.send(b"GET /fine HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nBad header\r\n\r\n")
    assert wire.response()[0].status == 200
    assert wire.response()[0].status == 400
    assert wire.read_to_close() == b""
    assert server.calls == ["/fine"]


def test_app_raising_before_start_response_is_500_with_one_traceback(start_server, caplog):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("boom")
        return hello(environ, start_response)

    server = start_server(app)
    wire = Wire(server)
    wire.get("/boom")
    head, body = wire.response()
    assert head.status == 500 and body and b"boom" not in body
    assert wire.read_to_close() == b""
    records = [r for r in caplog.records if r.name.startswith("sockjs_gevent")]
    assert len(records) == 1 and records[0].levelname == "ERROR" and records[0].exc_info
    assert_serves(server)


def test_app_raising_after_the_head_closes_the_connection(start_server, caplog):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        raise RuntimeError("boom")

    server = start_server(app)
    wire = Wire(server)
    wire.get("/")
    head = wire.read_head()
    assert head.status == 200 and wire.read_chunk() == b"partial"
    assert wire.read_to_close() == b""  # no last chunk: the client knows the body is incomplete
    assert len([r for r in caplog.records if r.name.startswith("sockjs_gevent")]) == 1


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHo",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhalf",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhalf",
    ],
    ids=["in the head", "in a body", "in a chunked body"],
)
def test_a_client_reset_leaves_at_most_one_debug_line(server, caplog, data):
    caplog.set_level(logging.DEBUG)
    wire = Wire(server)
    wire.send(data)
    if b"\r\n\r\n" in data:
        assert server.called.wait(5)  # the app is reading the body
    wire.abort()
    settle(server)
    records = [r for r in caplog.records if r.name.startswith("sockjs_gevent")]
    assert len(records) <= 1 and all(r.levelno == logging.DEBUG for r in records), records
    assert_serves(server)
