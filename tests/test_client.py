"""sockjs_gevent.client against the real test server, on every transport."""

import pytest

from sockjs_gevent.client import ConnectError, connect, info

TRANSPORTS = ["websocket", "xhr-streaming", "eventsource", "xhr-polling"]
AWKWARD = ["plain", "\u2028\u2029", "\x00\x1f", "\ufff0\uffff", '"quotes" \\ back', "emoji 😀", "%41 percent", "</script>"]


@pytest.mark.parametrize("transport", TRANSPORTS + ["rawwebsocket"])
def test_echo_in_order_with_awkward_characters(server, transport):
    conn = connect(server.url("/echo"), transport=transport)
    messages = [f"{i} {AWKWARD[i % len(AWKWARD)]}" for i in range(300)]
    for message in messages:
        conn.send(message)
    assert [conn.recv(timeout=5) for _ in messages] == messages
    conn.close()
    assert conn.closed and conn.recv() is None


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_large_downloads_cross_the_response_limit(server, transport):
    conn = connect(server.url("/amplify"), transport=transport)
    for n in (10, 14, 16):
        conn.send(str(n))
        assert conn.recv(timeout=5) == "x" * 2**n
    conn.close()


@pytest.mark.parametrize("transport", TRANSPORTS + ["rawwebsocket"])
def test_server_close_code_reaches_the_client(server, transport):
    conn = connect(server.url("/close"), transport=transport)
    assert conn.recv(timeout=5) is None
    assert (conn.close_code, conn.close_reason) == (3000, "Go away!")


def test_auto_picks_websocket_and_falls_back_when_disabled(server):
    assert connect(server.url("/echo")).transport_name == "websocket"
    assert connect(server.url("/disabled_websocket_echo")).transport_name == "xhr-streaming"
    assert info(server.url("/cookie_needed_echo"))["cookie_needed"] is True


def test_unreachable_server_raises_a_clear_error():
    with pytest.raises(ConnectError):
        connect("http://127.0.0.1:1/echo", transport="xhr-polling", timeout=2)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown transport"):
        connect("http://127.0.0.1:1/echo", transport="carrier-pigeon")
    with pytest.raises(ValueError, match="http://"):
        connect("ftp://x/echo")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_quiet_session_outlives_the_connect_timeout(server, transport):
    # Receiving requests wait for the server's heartbeat (25 s), not for the
    # connect timeout: an idle session must not break after `timeout`.
    conn = connect(server.url("/echo"), transport=transport, timeout=1.0)
    with pytest.raises(TimeoutError):
        conn.recv(timeout=1.5)
    assert not conn.closed
    conn.send("still here")
    assert conn.recv(timeout=5) == "still here"
    conn.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_idle_timeout_breaks_a_silent_session(server, transport):
    conn = connect(server.url("/echo"), transport=transport, idle_timeout=0.5)
    assert conn.recv(timeout=5) is None
    assert conn.close_code == 1006
