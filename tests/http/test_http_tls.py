"""HTTPS: a self-signed certificate made here; https, wss and https xhr-streaming through the test server."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time

import pytest

from sockjs_gevent.client import connect
from sockjs_gevent.http import HttpConfig
from testkit.serverproc import start_testserver
from tests.http.httpwire import Wire, hello


@pytest.fixture(scope="module")
def tls_server(certificate):
    cert, key = certificate
    server = start_testserver("--certfile", cert, "--keyfile", key)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client_context(certificate):
    return ssl.create_default_context(cafile=certificate[0])


def test_an_https_request(tls_server, client_context):
    assert tls_server.base_url.startswith("https://")
    conn = http.client.HTTPSConnection(tls_server.host, tls_server.port, context=client_context, timeout=5)
    try:
        conn.request("GET", "/echo/info")
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read())["websocket"] is True
        conn.request("GET", "/echo")  # the same connection, kept alive
        response = conn.getresponse()
        assert response.read() == b"Welcome to SockJS!\n"
    finally:
        conn.close()


@pytest.mark.parametrize("transport", ["websocket", "xhr-streaming"])
def test_a_sockjs_session_over_tls(tls_server, client_context, transport):
    conn = connect(tls_server.url("/echo"), transport=transport, ssl_context=client_context, timeout=5)
    try:
        for text in ("over tls", "x" * 10000):
            conn.send(text)
            assert conn.recv(timeout=5) == text
    finally:
        conn.close()


def test_a_client_that_never_finishes_the_handshake_is_cut_off(start_server, certificate):
    cert, key = certificate
    server = start_server(hello, HttpConfig(header_timeout=0.3), certfile=cert, keyfile=key)
    wire = Wire(server)
    start = time.monotonic()
    wire.send(b"\x16\x03\x01")  # the start of a ClientHello, and then nothing
    assert wire.read_to_close() == b""
    assert time.monotonic() - start < 2.0


def test_plain_http_to_a_tls_port_is_refused_quietly(start_server, certificate):
    cert, key = certificate
    server = start_server(hello, certfile=cert, keyfile=key)
    wire = Wire(server)
    wire.get("/")
    try:
        data = wire.read_to_close()
    except (OSError, ConnectionError):
        data = b""
    assert b"hello" not in data


def test_serve_with_an_ssl_context(start_server, certificate, client_context):
    """A stdlib SSLContext works as well as certfile/keyfile (the server wraps with gevent's SSLSocket)."""
    from sockjs_gevent.client.http import HttpClient

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = start_server(hello, ssl_context=context)
    http = HttpClient("127.0.0.1", server.server_port, 5, client_context)
    try:
        for _ in range(2):  # kept alive across requests
            response = http.request("GET", "/")
            assert (response.status, http.read_body()) == (200, b"hello")
    finally:
        http.close()


@pytest.mark.parametrize("kind", ["httptools", "pywsgi"])
def test_clean_and_abrupt_wss_session_ends_log_no_traceback(certificate, client_context, kind):
    """Every cleanly closed wss session used to log 'Read on closed or unwrapped SSL socket'."""
    cert, key = certificate
    server = start_testserver("--server", kind, "--certfile", cert, "--keyfile", key)
    try:
        for _ in range(5):
            with connect(server.url("/echo"), transport="websocket", ssl_context=client_context) as conn:
                conn.send("hi")
                assert conn.recv(timeout=5) == "hi"
        closing = connect(server.url("/close"), transport="websocket", ssl_context=client_context)
        assert closing.recv(timeout=5) is None and closing.close_code == 3000
        with connect(server.url("/echo"), transport="xhr-streaming", ssl_context=client_context) as conn:
            conn.send("hi")
            assert conn.recv(timeout=5) == "hi"
        _send_barrier(server)
        server.wait_for_log(r"HTTP/1\.1 requests? (without|need a) Host")
        log = server.log()
        assert "Traceback" not in log and "SSL socket" not in log, log
    finally:
        server.stop()


def _send_barrier(server) -> None:
    """A request both servers log (no Host): once its line is in, every line before it is."""
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    with tls.wrap_socket(
        socket.create_connection((server.host, server.port), timeout=5), server_hostname="127.0.0.1"
    ) as sock:
        sock.sendall(b"GET /echo/info HTTP/1.1\r\n\r\n")
        sock.recv(1024)
