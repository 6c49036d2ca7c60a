"""Arbitrary bytes at a running server: it answers or closes, never crashes, and keeps serving."""

from __future__ import annotations

import logging

import gevent
from gevent.pool import Pool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sockjs_gevent.http import HttpConfig, HttpServer
from tests.http.httpwire import Wire, assert_serves, settle

VALID = [
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
    b"POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"GET /u HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
]


def app(environ, start_response):
    stream = environ["wsgi.input"]
    body = stream.read(100) + stream.readline()
    if environ["PATH_INFO"] == "/s":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"a", b"", body])
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


def mutated() -> st.SearchStrategy[bytes]:
    """Valid requests cut, spliced and flipped, and plain noise."""
    valid = st.sampled_from(VALID)
    cut = st.tuples(valid, st.integers(0, 120)).map(lambda t: t[0][: t[1]])
    flipped = st.tuples(valid, st.integers(0, 119), st.integers(0, 255)).map(
        lambda t: t[0][: t[1]] + bytes([t[2]]) + t[0][t[1] + 1 :]
    )
    inserted = st.tuples(valid, st.integers(0, 120), st.binary(max_size=20)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
    )
    return st.lists(st.one_of(valid, cut, flipped, inserted, st.binary(max_size=300)), min_size=1, max_size=4).map(
        b"".join
    )


def test_arbitrary_bytes_never_break_the_server(caplog):
    caplog.set_level(logging.INFO)
    pool = Pool()
    config = HttpConfig(
        header_timeout=1.0,
        keepalive_timeout=1.0,
        body_timeout=1.0,
        write_timeout=1.0,
        linger_timeout=0.05,
        max_body_size=10000,
    )
    server = HttpServer(("127.0.0.1", 0), app, config, spawn=pool)
    server.start()
    try:

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(data=mutated())
        def throw(data: bytes) -> None:
            wire = Wire(server, timeout=3)
            try:
                wire.send(data)
                wire.sock.shutdown(1)  # nothing more: the server must answer or close
                with gevent.Timeout(3):
                    wire.read_to_close()
            except (ConnectionError, OSError):
                pass
            finally:
                wire.close()

        throw()
        settle(server)
        assert_serves(server)
        problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert problems == [], [r.getMessage() for r in problems]
    finally:
        server.stop(timeout=1)
