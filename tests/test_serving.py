"""Ways of running the server: the CLI, a Router with a fallback app, gevent-websocket."""

import json

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testkit.rawhttp import http
from testkit.serverproc import poll_until, start_server, start_testserver


def get(server, path, method="GET", body=None):
    _, data, response = http(server, method, path, body)
    return response, data


def test_cli_serves_a_handler_function_under_a_prefix():
    server = start_server(["-m", "sockjs_gevent", "examples.echo:echo", "--prefix", "/echo", "--port", "0"])
    try:
        response, body = get(server, "/echo")
        assert (response.status, body) == (200, b"Welcome to SockJS!\n")
        with connect(f"ws://{server.host}:{server.port}/echo/0/a/websocket") as ws:
            assert ws.recv() == "o"
            ws.send('["hi"]')
            assert ws.recv() == 'a["hi"]'
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["httptools", "pywsgi"])
def test_cli_picks_the_http_server_and_writes_an_access_log(kind):
    server = start_server(
        [
            "-m",
            "sockjs_gevent",
            "examples.echo:echo",
            "--prefix",
            "/echo",
            "--port",
            "0",
            "--server",
            kind,
            "--access-log",
            "--request-timeout",
            "5",
        ]
    )
    try:
        response, body = get(server, "/echo/info?x=1")
        assert response.status == 200
        poll_until(lambda: "GET /echo/info?x=1 HTTP/1.1" in server.log(), 5, "the access log line")
    finally:
        server.stop()


def test_cli_names_a_bad_target():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "sockjs_gevent", "no_such_module:x"], capture_output=True, text=True)
    assert result.returncode != 0
    assert "cannot import 'no_such_module'" in result.stderr


def test_chat_demo_serves_page_client_and_service():
    server = start_server(["examples/chat/server.py", "--port", "0"])
    try:
        response, body = get(server, "/")
        assert response.status == 200 and b"new SockJS('/chat'" in body
        response, body = get(server, "/static/sockjs.min.js")
        assert response.status == 200 and b"SockJS" in body
        response, body = get(server, "/chat/info")
        assert json.loads(body)["websocket"] is True
        response, body = get(server, "/chat/iframe.html")
        assert b'<script src="/static/sockjs.min.js"></script>' in body
        response, _ = get(server, "/nothing-here")
        assert response.status == 404
    finally:
        server.stop()


def test_app_still_mounts_under_gevent_websocket_handler():
    server = start_testserver("--gevent-websocket")
    try:
        with connect(f"ws://{server.host}:{server.port}/echo/0/s/websocket") as ws:
            assert ws.recv() == "o"
            ws.send('["via gevent-websocket"]')
            assert ws.recv() == 'a["via gevent-websocket"]'
        response, body = get(server, "/echo/0/poll/xhr", "POST")
        assert body == b"o\n"
        response, _ = get(server, "/echo/0/poll/xhr_send", "POST", b'["x"]')
        assert response.status == 204
        response, body = get(server, "/echo/0/poll/xhr", "POST")
        assert body == b'a["x"]\n'
        assert_broken_json_drops_the_connection(server)
    finally:
        server.stop()


def test_websockets_work_under_the_stock_pywsgi_handler():
    """Without sockjs_gevent's handler the request's greenlet reads the
    websocket itself (the socket is not handed over); same behaviour."""
    server = start_testserver("--plain-pywsgi", "--heartbeat-delay", "0.3")
    try:
        with connect(f"ws://{server.host}:{server.port}/echo/0/s/websocket") as ws:
            assert ws.recv() == "o"
            for word in ("one", "two"):
                ws.send(f'["{word}"]')
                assert ws.recv() == f'a["{word}"]'
            assert ws.recv(timeout=3) == "h"  # heartbeats from the pusher's timer
        with connect(f"ws://{server.host}:{server.port}/close/websocket") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv()
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (3000, "Go away!")
        assert_broken_json_drops_the_connection(server)
        status, body, _ = http(server, "GET", "/echo")
        assert (status, body) == (200, b"Welcome to SockJS!\n")
    finally:
        server.stop()


def assert_broken_json_drops_the_connection(server):
    """docs/protocol.md 6.1 on this server path too: no close handshake after broken JSON."""
    with connect(f"ws://{server.host}:{server.port}/echo/0/broken/websocket") as ws:
        assert ws.recv() == "o"
        ws.send('["a')
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=5)
        assert closed.value.rcvd is None


def test_malformed_request_headers_get_400_and_the_server_keeps_serving(server):
    import socket

    for block, status in (
        (b"Bad header line\r\n", b"400"),
        (b"X-A : spaced name\r\n", b"400"),
        (b"X: " + b"a" * 70000 + b"\r\n", b"431"),
    ):
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"GET /echo HTTP/1.1\r\nHost: t\r\n" + block + b"\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 " + status + b" ")
    status, body, _ = http(server, "GET", "/echo")
    assert (status, body) == (200, b"Welcome to SockJS!\n")


def test_request_heads_longer_than_the_read_buffer_are_read_whole(server):
    cookie = "a=" + "x" * 6000  # three times SockJSHandler.read_buffer
    status, body, headers = http(server, "POST", "/cookie_needed_echo/000/big/xhr", b"", {"Cookie": cookie})
    assert (status, body) == (200, b"o\n")


def test_compressed_feed_example_streams_compressed_json():
    from sockjs_gevent.client import connect as sockjs_connect

    server = start_server(["examples/compressed_feed.py", "--port", "0"])
    try:
        base = f"http://{server.host}:{server.port}/feed"
        with sockjs_connect(base, transport="websocket", compression=True) as conn:
            quotes = [json.loads(conn.recv(timeout=5)) for _ in range(2)]
            assert conn.transport.compressed
        assert [q["seq"] for q in quotes] == [0, 1] and {"bid", "ask", "symbol"} <= set(quotes[0])
        with sockjs_connect(base, transport="xhr-streaming") as conn:  # the same feed, uncompressed
            assert json.loads(conn.recv(timeout=5))["seq"] == 0
    finally:
        server.stop()
