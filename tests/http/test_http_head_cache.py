"""The response-head cache (``response._HEADS``): the same answer for every request, bounded whatever apps echo.

A head is worked out once per distinct status and header list; what
depends on the request (HTTP/1.0 or 1.1, HEAD, the connection closing, the
body's length, the date) is added per answer. Each test sends the same
header list several ways, so that a cached head is reused.
"""

from __future__ import annotations

import pytest

from sockjs_gevent.http import response
from tests.http.httpwire import Wire

FIXED = [("Content-Type", "text/plain"), ("X-Same", "1")]


@pytest.fixture(autouse=True)
def empty_cache():
    response._HEADS.clear()
    yield
    response._HEADS.clear()


def test_one_header_list_answers_http11_http10_and_head_each_as_its_own(start_server):
    def app(environ, start_response):
        start_response("200 OK", list(FIXED))
        return [b"hello"]

    server = start_server(app)
    wire = Wire(server)
    for _ in range(2):  # (the second answer comes from the cache)
        wire.get("/")
        head, body = wire.response()
        assert (head.status, body, head.header("Content-Length"), head.header("Connection")) == (
            200,
            b"hello",
            "5",
            None,
        )
        assert head.header("X-Same") == "1" and head.header("Date")
    wire.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    head = wire.read_head()
    assert head.header("Content-Length") == "5"
    wire.close()
    for _ in range(2):
        old = Wire(server)
        old.get("/", version="HTTP/1.0")
        head = old.read_head()
        assert head.header("Connection") == "close" and old.read_to_close() == b"hello"
    assert len(response._HEADS) == 1


def test_a_cached_connection_close_still_closes_every_connection(start_server):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "2"), ("Connection", "close")])
        return [b"ok"]

    server = start_server(app)
    for _ in range(3):
        wire = Wire(server)
        wire.get("/")
        head = wire.read_head()
        assert head.header("Connection") == "close"
        assert wire.read_to_close() == b"ok"  # the server closed after it


def test_a_streamed_answer_is_chunked_each_time_with_its_cached_head(start_server):
    def app(environ, start_response):
        start_response("200 OK", list(FIXED))
        return iter([b"a", b"bc"])

    server = start_server(app)
    wire = Wire(server)
    for _ in range(3):
        wire.get("/")
        head, body = wire.response()
        assert head.header("Transfer-Encoding") == "chunked" and body == b"abc"
    wire.close()


def test_header_injection_is_refused_every_time_not_cached(start_server):
    def app(environ, start_response):
        start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: owned=1")])
        return [b""]

    server = start_server(app)
    for _ in range(3):
        wire = Wire(server)
        wire.get("/")
        head, _ = wire.response()
        assert head.status == 500 and head.header("Set-Cookie") is None
    assert response._HEADS == {}


def test_header_items_that_are_lists_are_served_uncached(start_server):
    def app(environ, start_response):
        start_response("200 OK", [["Content-Type", "text/plain"]])  # (WSGI says tuples)
        return [b"ok"]

    server = start_server(app)
    wire = Wire(server)
    for _ in range(2):
        wire.get("/")
        head, body = wire.response()
        assert (head.status, head.header("Content-Type"), body) == (200, "text/plain", b"ok")
    wire.close()
    assert response._HEADS == {}


def test_echoed_values_keep_the_cache_bounded_and_long_heads_out(start_server):
    def app(environ, start_response):
        start_response("200 OK", [("X-Echo", environ["HTTP_X_ECHO"])])
        return [b"ok"]

    server = start_server(app)
    wire = Wire(server)
    for i in range(response._HEADS_MAX + 50):
        wire.get("/", headers=f"X-Echo: value-{i}\r\n")
        head, body = wire.response()
        assert head.header("X-Echo") == f"value-{i}" and body == b"ok"
        assert len(response._HEADS) <= response._HEADS_MAX
    response._HEADS.clear()
    long_value = "v" * response._HEAD_CACHED_MAX
    wire.get("/", headers=f"X-Echo: {long_value}\r\n")
    head, body = wire.response()
    assert head.header("X-Echo") == long_value and body == b"ok"
    assert response._HEADS == {}  # answered, not kept
    wire.close()


def test_an_upgrade_answer_is_not_kept(start_server):
    """A 101 may carry values of its connection's own: keeping it would only push others out."""

    def app(environ, start_response):
        start_response("101 Switching Protocols", [("Upgrade", "test"), ("X-Key", environ["HTTP_X_KEY"])])
        return [b""]

    server = start_server(app)
    for key in ("a", "b"):
        wire = Wire(server)
        wire.send(f"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: test\r\nX-Key: {key}\r\n\r\n".encode())
        head = wire.read_head()
        assert head.status == 101 and head.header("X-Key") == key
        wire.close()
    assert response._HEADS == {}


def upgrade_app(environ, start_response):
    """A websocket-shaped 101: what comes before Sec-WebSocket-Accept is the same for every one."""
    start_response(
        "101 Switching Protocols",
        [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", environ["HTTP_X_ACCEPT"])],
    )
    return [b""]


def upgrade(server, accept: str):
    wire = Wire(server)
    wire.send(
        f"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: test\r\nX-Accept: {accept}\r\n\r\n".encode()
    )
    return wire


def test_a_websocket_101_keeps_what_every_one_shares_and_carries_its_own_accept(start_server):
    server = start_server(upgrade_app)
    for accept in ("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "dGhlIHNhbXBsZSBub25jZQ==", "x:y z"):
        wire = upgrade(server, accept)
        head = wire.read_head()
        assert head.status == 101 and head.header("Sec-WebSocket-Accept") == accept
        assert head.header("Upgrade") == "websocket" and head.header("Connection") == "Upgrade"
        assert head.header("Date")
        wire.close()
    assert len(response._HEADS) == 1  # the shared part, once


def test_a_101_accept_value_that_would_break_its_line_is_refused_as_any_header(start_server):
    def app(environ, start_response):
        start_response(
            "101 Switching Protocols", [("Upgrade", "websocket"), ("Sec-WebSocket-Accept", "a\r\nX-Evil: 1")]
        )
        return [b""]

    server = start_server(app)
    for _ in range(2):
        wire = upgrade(server, "unused")
        head = wire.read_head()
        assert head.status == 500 and head.header("X-Evil") is None
        wire.close()
    assert response._HEADS == {}
