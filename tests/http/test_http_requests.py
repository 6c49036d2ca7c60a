"""HTTP/1.1 and 1.0 over a real socket: keep-alive, pipelining, close, HEAD, 100-continue, request bodies."""

from __future__ import annotations

import json

import gevent
import pytest
from gevent.event import Event

from tests.http.httpwire import Wire, hello, settle


def echo_body(environ, start_response):
    """Answers with what the app read, the way the query asks: read(n), read(), readline, iteration."""
    stream = environ["wsgi.input"]
    how = environ["QUERY_STRING"] or "read"
    if how == "read":
        data = stream.read()
    elif how == "read3":
        parts = []
        while True:
            part = stream.read(3)
            if not part:
                break
            assert len(part) <= 3
            parts.append(part.decode())
        data = json.dumps(parts).encode()
    elif how == "readline":
        data = json.dumps([stream.readline().decode(), stream.readline(2).decode(), stream.read().decode()]).encode()
    elif how == "iterate":
        data = json.dumps([line.decode() for line in stream]).encode()
    else:
        data = b""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


def test_keep_alive_serves_many_requests_on_one_connection(start_server):
    server = start_server(hello)
    wire = Wire(server)
    for _ in range(3):
        wire.get("/")
        head, body = wire.response()
        assert (head.status, body) == (200, b"hello")
        assert head.header("Connection") is None
    wire.close()


def test_pipelined_requests_are_answered_in_order_one_app_call_at_a_time(start_server):
    running = []
    order = []

    def app(environ, start_response):
        assert not running, "two app calls at once on one connection"
        running.append(1)
        try:
            body = environ["wsgi.input"].read()
            gevent.sleep(0)  # let anything else run: nothing of this connection may
            order.append(environ["PATH_INFO"])
            data = (environ["PATH_INFO"] + ":" + body.decode()).encode()
            start_response("200 OK", [("Content-Length", str(len(data)))])
            return [data]
        finally:
            running.pop()

    server = start_server(app)
    wire = Wire(server)
    wire.send(
        b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
        b"POST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
        b"POST /3 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n1\r\nf\r\n0\r\n\r\n"
        b"GET /4 HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    assert [wire.response()[1] for _ in range(4)] == [b"/1:", b"/2:abc", b"/3:def", b"/4:"]
    assert order == ["/1", "/2", "/3", "/4"]
    wire.close()


def test_connection_close_is_honoured(start_server):
    server = start_server(hello)
    wire = Wire(server)
    wire.get("/", "Connection: close\r\n")
    head, body = wire.response()
    assert (head.status, body, head.header("Connection")) == (200, b"hello", "close")
    assert wire.read_to_close() == b""


def test_http10_closes_unless_keep_alive_was_asked_and_the_length_is_known(start_server):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        if environ["PATH_INFO"] == "/stream":
            return iter([b"a", b"b"])
        return [b"fixed"]

    server = start_server(app)
    wire = Wire(server)
    wire.get("/", version="HTTP/1.0")
    head, body = wire.response()
    assert (head.version, body, head.header("Content-Length"), head.header("Connection")) == (
        "HTTP/1.1",
        b"fixed",
        "5",
        "close",
    )
    assert wire.read_to_close() == b""

    wire = Wire(server)
    wire.get("/", "Connection: keep-alive\r\n", version="HTTP/1.0")
    head, body = wire.response()
    assert (body, head.header("Connection")) == (b"fixed", "keep-alive")
    wire.get("/stream", "Connection: keep-alive\r\n", version="HTTP/1.0")
    head = wire.read_head()
    assert head.header("Transfer-Encoding") is None and head.header("Content-Length") is None
    assert head.header("Connection") == "close"
    assert wire.read_to_close() == b"ab"  # no chunking: the close ends the body


def test_head_writes_no_body_but_keeps_the_content_length(start_server):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/set":
            start_response("200 OK", [("Content-Length", "42")])
            return iter([b"x" * 42])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"computed"]

    server = start_server(app)
    wire = Wire(server)
    wire.send(b"HEAD /set HTTP/1.1\r\nHost: t\r\n\r\n")
    head = wire.read_head()
    assert (head.status, head.header("Content-Length")) == (200, "42")
    wire.send(b"HEAD /list HTTP/1.1\r\nHost: t\r\n\r\n")
    head = wire.read_head()
    assert head.header("Content-Length") == "8"
    wire.get("/list")  # the connection is still in step: no body bytes were written
    head, body = wire.response()
    assert body == b"computed"
    wire.close()


def test_head_of_an_endless_stream_ends_after_the_head(start_server):
    closed = Event()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/event-stream")])

        def endless():
            try:
                while True:
                    yield b"data: tick\r\n\r\n"
            finally:
                closed.set()

        return endless()

    server = start_server(app)
    wire = Wire(server)
    wire.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
    head = wire.read_head()
    assert head.status == 200 and head.header("Transfer-Encoding") is None
    assert closed.wait(5)  # the app's iterable was closed, not drained forever
    wire.send(b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert wire.read_head().status == 200
    assert wire.read_to_close() == b""  # and nothing but the two heads was written


def test_100_continue_is_sent_only_when_the_app_reads_the_body(start_server):
    reading = Event()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/read":
            reading.set()
            data = environ["wsgi.input"].read()
        else:
            data = b"ignored"
        start_response("200 OK", [("Content-Length", str(len(data)))])
        return [data]

    server = start_server(app)
    wire = Wire(server)
    wire.send(b"POST /read HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    head = wire.read_head()
    assert (head.status, head.reason) == (100, "Continue")
    assert reading.is_set()
    wire.send(b"body")
    head, body = wire.response("POST")
    assert (head.status, body) == (200, b"body")

    # An app that answers without reading: no 100; the client never sends
    # the body, so the connection cannot be reused.
    wire.send(b"POST /skip HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    head, body = wire.response("POST")
    assert (head.status, body) == (200, b"ignored")
    assert wire.read_to_close() == b""


@pytest.mark.parametrize(
    "how,expected",
    [
        ("read", "line1\nline2\nend"),
        ("read3", ["lin", "e1\n", "lin", "e2\n", "end"]),
        ("readline", ["line1\n", "li", "ne2\nend"]),
        ("iterate", ["line1\n", "line2\n", "end"]),
    ],
)
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_request_bodies_are_streams(start_server, how, expected, framing):
    server = start_server(echo_body)
    wire = Wire(server)
    body = b"line1\nline2\nend"
    if framing == "length":
        wire.send(b"POST /?%s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (how.encode(), len(body)))
        pieces = [body[:4], body[4:9], body[9:]]
    else:
        wire.send(b"POST /?%s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" % how.encode())
        pieces = [b"4\r\n" + body[:4] + b"\r\n", b"5\r\n" + body[4:9], b"\r\n6\r\n" + body[9:] + b"\r\n0\r\n\r\n"]
    for piece in pieces:  # the body arrives in pieces, while the app reads
        gevent.sleep(0.01)
        wire.send(piece)
    head, answer = wire.response("POST")
    got = answer.decode() if how == "read" else json.loads(answer)
    assert got == expected
    wire.close()


def test_unread_small_body_is_drained_and_the_connection_reused(start_server):
    calls = []

    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = start_server(app)
    wire = Wire(server)
    wire.send(b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n01234")
    assert wire.response("POST")[1] == b"ok"
    wire.send(b"56789GET /b HTTP/1.1\r\nHost: t\r\n\r\n")
    assert wire.response()[1] == b"ok"
    assert calls == ["/a", "/b"]  # the rest of the body was not taken for a request
    wire.close()


def test_unread_large_body_closes_the_connection(start_server):
    server = start_server(hello)
    wire = Wire(server)
    wire.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\nxx")
    head, body = wire.response("POST")
    assert body == b"hello"
    assert wire.read_to_close() == b""
    settle(server)
