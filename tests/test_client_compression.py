"""sockjs_gevent.client's compression=: permessage-deflate offered, agreed or declined, over a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sockjs_gevent import Compression, OptionsError
from sockjs_gevent.client import connect
from testkit.rawhttp import http
from testkit.serverproc import RunningServer, start_testserver

AWKWARD = ["plain", "\u2028\u2029", "\x00\x1f", "\ufff0\uffff", '"quotes" \\ back', "emoji 😀", "</script>"]


@pytest.fixture(scope="module")
def deflate_server() -> Iterator[RunningServer]:
    """The test server with websocket_compression on (its defaults) for every service."""
    running = start_testserver("--websocket-compression")
    yield running
    running.stop()


def compressed_count(server: RunningServer) -> int:
    status, body, _ = http(server, "GET", "/stats")
    assert status == 200
    return json.loads(body)["/echo"]["websocket_compressed"]


@pytest.mark.parametrize("transport", ["websocket", "raw-websocket"])
def test_offered_and_agreed(deflate_server, transport):
    before = compressed_count(deflate_server)
    with connect(deflate_server.url("/echo"), transport=transport, compression=True) as conn:
        assert conn.transport.compressed
        messages = [f"{i} {AWKWARD[i % len(AWKWARD)]} " + "padding " * i for i in range(100)]
        for message in messages:
            conn.send(message)
        assert [conn.recv(timeout=5) for _ in messages] == messages
    assert compressed_count(deflate_server) == before + 1


def test_large_downloads_and_the_close_code(deflate_server):
    with connect(deflate_server.url("/amplify"), transport="websocket", compression=True) as conn:
        for n in (10, 16, 18):
            conn.send(str(n))
            assert conn.recv(timeout=5) == "x" * 2**n
    conn = connect(deflate_server.url("/close"), transport="raw-websocket", compression=True)
    assert conn.recv(timeout=5) is None
    assert (conn.close_code, conn.close_reason) == (3000, "Go away!")


@pytest.mark.parametrize("transport", ["websocket", "raw-websocket"])
def test_a_client_that_does_not_offer_still_works(deflate_server, transport):
    with connect(deflate_server.url("/echo"), transport=transport) as conn:
        assert not conn.transport.compressed
        conn.send("plain " * 100)
        assert conn.recv(timeout=5) == "plain " * 100


def test_a_server_without_compression_declines(server):
    with connect(server.url("/echo"), transport="websocket", compression=True) as conn:
        assert not conn.transport.compressed
        conn.send("hello")
        assert conn.recv(timeout=5) == "hello"


def test_settings_asked_for_are_what_the_server_agrees_to(deflate_server):
    asked = Compression(server_no_context_takeover=True, client_no_context_takeover=True, server_max_window_bits=10)
    with connect(deflate_server.url("/echo"), transport="websocket", compression=asked) as conn:
        (extension,) = conn.transport._engine.extensions
        assert extension.remote_no_context_takeover and extension.local_no_context_takeover
        assert extension.remote_max_window_bits == 10
        conn.send("again " * 50)
        conn.send("again " * 50)
        assert [conn.recv(timeout=5), conn.recv(timeout=5)] == ["again " * 50] * 2


def test_http_transports_ignore_it(deflate_server):
    with connect(deflate_server.url("/echo"), transport="xhr-streaming", compression=True) as conn:
        conn.send("over http")
        assert conn.recv(timeout=5) == "over http"


def test_a_bad_value_is_named():
    with pytest.raises(OptionsError, match="compression must be True, False, None"):
        connect("http://127.0.0.1:1/echo", transport="websocket", compression="yes")
