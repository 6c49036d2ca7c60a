"""sockjs_gevent.client against the real test server, on every transport."""

import pytest

from sockjs_gevent.client import ConnectError, connect, info

TRANSPORTS = ["websocket", "xhr-streaming", "eventsource", "xhr-polling"]
AWKWARD = [
    "plain",
    "\u2028\u2029",
    "\x00\x1f",
    "\ufff0\uffff",
    '"quotes" \\ back',
    "emoji 😀",
    "%41 percent",
    "</script>",
]


@pytest.mark.parametrize("transport", TRANSPORTS + ["raw-websocket"])
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


@pytest.mark.parametrize("transport", TRANSPORTS + ["raw-websocket"])
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


@pytest.mark.parametrize("transport", TRANSPORTS + ["raw-websocket"])
def test_the_query_string_goes_with_every_request_of_the_session(server, transport):
    """Token-in-query authentication: the server sees the query on the request that opens the session
    (every later request of the session is built by the same Transport.target)."""
    import json

    with connect(server.url("/whoami?token=abc&x=1"), transport=transport) as conn:
        whoami = json.loads(conn.recv(timeout=5))
        assert whoami["query"] == "token=abc&x=1", whoami
        conn.send("still here")
        assert conn.recv(timeout=5) == "still here"


@pytest.mark.parametrize("transport", ["xhr-streaming", "xhr-polling"])
def test_cookies_start_the_jar_and_the_server_sets_the_rest(server, transport):
    """/cookie_needed_echo sets JSESSIONID (echoing the one it got): the jar keeps and resends it."""
    import json

    with connect(server.url("/cookie_needed_echo"), transport=transport, cookies={"JSESSIONID": "sticky"}) as conn:
        conn.send("x")
        assert conn.recv(timeout=5) == "x"
        assert conn.cookies["JSESSIONID"] == "sticky"
    with connect(server.url("/cookie_needed_echo"), transport=transport) as conn:
        conn.send("y")
        assert conn.recv(timeout=5) == "y"
        assert conn.cookies == {"JSESSIONID": "dummy"}  # learnt from the server's Set-Cookie
    with connect(server.url("/whoami"), transport=transport, cookies={"theme": "dark"}) as conn:
        assert json.loads(conn.recv(timeout=5))["cookies"] == {"theme": "dark"}


def test_a_connection_closes_when_its_with_block_ends(server):
    with connect(server.url("/echo"), transport="websocket") as conn:
        conn.send("hi")
        assert conn.recv(timeout=5) == "hi"
    assert conn.closed and conn.close_code == 1000
