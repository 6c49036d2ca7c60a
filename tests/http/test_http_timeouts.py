"""Timeouts, each on short timers: head deadline, body, idle keep-alive, writes; upgrades are exempt."""

from __future__ import annotations

import socket
import time

import gevent
import pytest
from gevent.event import Event

from sockjs_gevent.http import ConfigError, HttpConfig
from sockjs_gevent.server import build_server
from tests.http.httpwire import Wire, hello, settle
from tests.http.test_http_hooks import echo_upgrade

SHORT = 0.3


def config(**changes) -> HttpConfig:
    base = HttpConfig(
        header_timeout=5.0, keepalive_timeout=5.0, body_timeout=5.0, write_timeout=5.0, linger_timeout=0.1
    )
    return base.replace(**changes)


def closed_after(wire: Wire) -> float:
    """Seconds until the server closes the connection (reading what it sends)."""
    start = time.monotonic()
    wire.read_to_close()
    return time.monotonic() - start


def test_the_head_has_a_total_deadline_whatever_the_progress(start_server):
    server = start_server(hello, config(header_timeout=SHORT))
    wire = Wire(server)
    start = time.monotonic()
    wire.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
    with pytest.raises(OSError):
        for _ in range(100):  # a byte every 50 ms: progress, but never a whole head
            wire.send(b"a")
            gevent.sleep(0.05)
    assert wire.read_to_close() == b""
    assert SHORT * 0.9 <= time.monotonic() - start < SHORT + 1.0
    settle(server)


def test_a_silent_new_connection_is_cut_at_the_head_deadline(start_server):
    server = start_server(hello, config(header_timeout=SHORT))
    wire = Wire(server)
    assert SHORT * 0.9 <= closed_after(wire) < SHORT + 1.0


def test_idle_keep_alive_times_out_only_between_requests(start_server):
    release = Event()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            release.wait(5)  # the app takes longer than the keep-alive timeout
        return hello(environ, start_response)

    server = start_server(app, config(keepalive_timeout=SHORT))
    wire = Wire(server)
    wire.get("/slow")
    gevent.spawn_later(SHORT * 2, release.set)
    assert wire.response()[1] == b"hello"  # not cut while the app ran
    wire.get("/")
    assert wire.response()[1] == b"hello"
    assert SHORT * 0.9 <= closed_after(wire) < SHORT + 1.0  # idle: closed


def test_empty_lines_between_requests_do_not_extend_the_idle_timeout(start_server):
    server = start_server(hello, config(keepalive_timeout=SHORT))
    wire = Wire(server)
    wire.get("/")
    wire.response()
    start = time.monotonic()
    with pytest.raises(OSError):
        for _ in range(100):  # a CRLF every 50 ms: allowed before a request line, but no request
            wire.send(b"\r\n")
            gevent.sleep(0.05)
    assert SHORT * 0.9 <= time.monotonic() - start < SHORT + 1.0


def test_a_trickling_body_is_cut_and_answered_408(start_server):
    def app(environ, start_response):
        data = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(data)))])
        return [data]

    server = start_server(app, config(body_timeout=SHORT, body_min_rate=None))
    wire = Wire(server)
    wire.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
    start = time.monotonic()
    sender = gevent.spawn(lambda: [wire.send(b"x") or gevent.sleep(0.05) for _ in range(100)])
    head, _ = wire.response()
    assert head.status == 408
    assert SHORT * 0.9 <= time.monotonic() - start < SHORT + 1.0
    sender.kill()


def test_a_client_that_stops_reading_is_cut_off_by_the_write_timeout(start_server):
    stopped = Event()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])

        def forever():
            try:
                while True:
                    yield b"x" * 65536
            finally:
                stopped.set()

        return forever()

    server = start_server(app, config(write_timeout=SHORT))
    wire = Wire(server)
    wire.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    wire.get("/")  # and never read
    assert stopped.wait(SHORT + 5.0), "the server kept writing to a client that does not read"
    settle(server)


def test_an_upgraded_connection_is_exempt_from_every_timeout(start_server):
    server = start_server(
        echo_upgrade,
        HttpConfig(header_timeout=0.1, keepalive_timeout=0.1, body_timeout=0.1, write_timeout=0.1, linger_timeout=0.1),
    )
    wire = Wire(server)
    wire.send(b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
    assert wire.read_head().status == 101
    gevent.sleep(0.4)  # idle past every timer
    wire.send(b"still here")
    assert wire.read_exactly(10) == b"STILL HERE"
    wire.close()


def test_request_timeout_maps_onto_every_timer():
    config = HttpConfig.from_request_timeout(7.0)
    assert (config.header_timeout, config.keepalive_timeout, config.body_timeout, config.write_timeout) == (7.0,) * 4
    server = build_server(hello, "127.0.0.1", 0, request_timeout=0.5, max_body_size=10)
    assert server.config.header_timeout == 0.5 and server.config.max_body_size == 10
    assert HttpConfig().header_timeout == 30.0


@pytest.mark.parametrize(
    "changes",
    [
        {"header_timeout": 0},
        {"keepalive_timeout": -1},
        {"write_timeout": float("nan")},
        {"body_timeout": "5"},
        {"max_head_size": 0},
        {"max_headers": True},
        {"max_body_size": -1},
        {"max_url_size": 10**6},
    ],
)
def test_bad_config_values_are_refused_with_the_field_named(changes):
    with pytest.raises(ConfigError) as error:
        HttpConfig().replace(**changes)
    assert next(iter(changes)) in str(error.value)


def test_an_unknown_config_field_is_a_type_error():
    with pytest.raises(TypeError, match="header_timeot"):
        HttpConfig().replace(header_timeot=1)
