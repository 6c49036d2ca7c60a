"""docs/protocol.md section 6: SockJS websocket and raw websocket."""

import json

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testkit.rawhttp import Raw
from testkit.rawws import ws_connect_raw, ws_recv, ws_send
from testkit.sockjshttp import alive, messages_of, new_sid
from testkit.wsframe import accept_token, encode, handshake_headers


def ws_url(server, path):
    return f"ws://{server.host}:{server.port}{path}"


def sockjs_ws(server, prefix="/echo", sid=None):
    return connect(ws_url(server, f"{prefix}/000/{sid or new_sid()}/websocket"), open_timeout=5)


def recv_messages(ws, count):
    """Messages from a[...] frames until ``count`` arrived."""
    got = []
    while len(got) < count:
        got += messages_of(ws.recv(timeout=5))
    return got


def test_sockjs_websocket_opens_with_o_and_echoes_arrays(server):
    with sockjs_ws(server) as ws:
        assert ws.recv(timeout=5) == "o"
        ws.send('["a","b"]')
        assert recv_messages(ws, 2) == ["a", "b"]
        ws.send(json.dumps(["x"]))
        assert ws.recv(timeout=5) == 'a["x"]'


def test_sockjs_websocket_accepts_single_json_string(server):
    with sockjs_ws(server) as ws:
        assert ws.recv(timeout=5) == "o"
        ws.send('"single"')
        assert recv_messages(ws, 1) == ["single"]


def test_sockjs_websocket_ignores_empty_message_and_empty_array(server):
    with sockjs_ws(server) as ws:
        assert ws.recv(timeout=5) == "o"
        ws.send("")
        ws.send("[]")
        ws.send('["after"]')
        assert ws.recv(timeout=5) == 'a["after"]'


@pytest.mark.parametrize("bad", ['["x"', "not json", "[x]", '{"a"', "[1]", '"\\ud800'])
def test_sockjs_websocket_broken_json_drops_the_connection_without_close_handshake(server, bad):
    """docs/protocol.md 6.1: at most a c[1007,...] message, then the TCP stream ends: no close frame."""
    raw, _ = ws_connect_raw(server, f"/echo/000/{new_sid()}/websocket")
    with raw:
        assert ws_recv(raw) == (1, b"o")
        ws_send(raw, bad)
        frames = []
        with pytest.raises(ConnectionError):
            while True:
                frames.append(ws_recv(raw))
        assert frames in ([], [(1, b'c[1007,"Broken JSON encoding."]')]), frames
        assert raw.peer_closed
    alive(server)


def test_sockjs_websocket_broken_json_client_sees_abnormal_end(server):
    with sockjs_ws(server) as ws:
        assert ws.recv(timeout=5) == "o"
        ws.send('["a')
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=5)
        assert closed.value.rcvd is None  # no close frame came: the socket just ended


def test_sockjs_websocket_close_service_sends_close_frame_then_closes(server):
    with sockjs_ws(server, "/close") as ws:
        assert ws.recv(timeout=5) == "o"
        assert ws.recv(timeout=5) == 'c[3000,"Go away!"]'
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)


def test_sockjs_websocket_two_sockets_same_session_id_both_work(server):
    sid = new_sid()
    with sockjs_ws(server, sid=sid) as one, sockjs_ws(server, sid=sid) as two:
        assert one.recv(timeout=5) == "o" and two.recv(timeout=5) == "o"
        one.send('["one"]')
        two.send('["two"]')
        assert one.recv(timeout=5) == 'a["one"]'
        assert two.recv(timeout=5) == 'a["two"]'


def test_sockjs_websocket_session_id_reusable_after_close(server):
    sid = new_sid()
    for i in range(3):
        with sockjs_ws(server, sid=sid) as ws:
            assert ws.recv(timeout=5) == "o"
            ws.send(json.dumps([f"round {i}"]))
            assert ws.recv(timeout=5) == f'a["round {i}"]'


def test_sockjs_websocket_heartbeat_with_short_delay(server_factory):
    fast = server_factory("--heartbeat-delay", "0.2")
    with sockjs_ws(fast) as ws:
        assert ws.recv(timeout=5) == "o"
        assert ws.recv(timeout=3) == "h"
        assert ws.recv(timeout=3) == "h"


def test_sockjs_websocket_one_frame_per_message(server):
    with sockjs_ws(server, "/amplify") as ws:
        assert ws.recv(timeout=5) == "o"
        ws.send('["2"]')
        assert ws.recv(timeout=5) == 'a["xxxx"]'


@pytest.mark.parametrize("text", ["hello", "zażółć gęślą jaźń", "日本語 \U0001f600 \u2028 \x00 \ud7ff", "x" * 70000])
def test_raw_websocket_echoes_any_unicode_text(server, text):
    with connect(ws_url(server, "/echo/websocket"), open_timeout=5, max_size=None) as ws:
        ws.send(text)
        assert ws.recv(timeout=5) == text


def test_raw_websocket_has_no_sockjs_framing(server):
    with connect(ws_url(server, "/echo/websocket"), open_timeout=5) as ws:
        ws.send('["not","parsed"]')
        assert ws.recv(timeout=5) == '["not","parsed"]'


def test_raw_websocket_close_service_sends_close_frame_3000_go_away(server):
    with connect(ws_url(server, "/close/websocket"), open_timeout=5) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 3000
    assert closed.value.rcvd.reason == "Go away!"


@pytest.mark.parametrize("version", [8, 13])
def test_raw_websocket_handshake_versions_8_and_13(server, version):
    raw, head = ws_connect_raw(server, "/echo/websocket", version)
    assert head.header("Upgrade").lower() == "websocket"
    ws_send(raw, f"v{version} ✓")
    assert ws_recv(raw) == (1, f"v{version} ✓".encode())
    raw.close()


@pytest.mark.parametrize("path", ["/echo/websocket", "/echo/000/SID/websocket"])
def test_websocket_connection_header_token_list_is_accepted(server, path):
    raw, _ = ws_connect_raw(server, path.replace("SID", new_sid()), connection="keep-alive, Upgrade")
    raw.close()


def test_sockjs_websocket_over_raw_frames(server):
    raw, _ = ws_connect_raw(server, f"/echo/000/{new_sid()}/websocket")
    assert ws_recv(raw) == (1, b"o")
    ws_send(raw, '["raw"]')
    assert ws_recv(raw) == (1, b'a["raw"]')
    raw.close()


@pytest.mark.parametrize(
    "path, early, late, expected",
    [
        ("/echo/000/SID/websocket", '["early"]', '["late"]', [b"o", b'a["early"]', b'a["late"]']),
        ("/echo/websocket", "early", "late", [b"early", b"late"]),
    ],
)
def test_websocket_frames_sent_with_the_handshake_are_not_lost(server, path, early, late, expected):
    """A client that sends a frame in the same packet as its upgrade request
    (before the 101) still has it read, and the later ones after it."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    head = f"GET {path.replace('SID', new_sid())} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in handshake_headers(key)) + "\r\n"
    raw = Raw(server)
    raw.send(head.encode() + encode(early))
    response = raw.read_head()
    assert response.status == 101 and response.header("Sec-WebSocket-Accept") == accept_token(key)
    received = [ws_recv(raw)[1] for _ in range(len(expected) - 1)]
    ws_send(raw, late)
    received.append(ws_recv(raw)[1])
    assert received == expected
    raw.close()


def handshake(server, method, path, headers):
    raw = Raw(server)
    raw.send_request(method, path.replace("SID", new_sid()), headers)
    r = raw.read_head()
    body = raw.read_body() if r.status != 101 else b""
    raw.close()
    return r, body


WS_PATHS = ["/echo/000/SID/websocket", "/echo/websocket"]


@pytest.mark.parametrize("path", WS_PATHS)
@pytest.mark.parametrize("key", ["abc", "", "dG9vIHNob3J0", "!!!!!!!!!!!!!!!!!!!!!!=="])
def test_websocket_malformed_key_is_400(server, path, key):
    r, _ = handshake(server, "GET", path, handshake_headers(key))
    assert r.status == 400
    alive(server)


@pytest.mark.parametrize("path", WS_PATHS)
def test_websocket_plain_get_without_upgrade_is_400_not_valid(server, path):
    r, body = handshake(server, "GET", path, [])
    assert r.status == 400
    assert b"Not a valid websocket request" in body
    alive(server)


@pytest.mark.parametrize("path", WS_PATHS)
def test_websocket_connection_close_is_400_not_valid(server, path):
    r, body = handshake(server, "GET", path, handshake_headers(connection="close"))
    assert r.status == 400
    assert b"Not a valid websocket request" in body
    alive(server)


@pytest.mark.parametrize("path", WS_PATHS)
def test_websocket_upgrade_over_http10_is_400(server, path):
    raw = Raw(server)
    raw.send_request("GET", path, handshake_headers(), version="HTTP/1.0")
    r = raw.read_head()
    assert r.status == 400
    raw.close()
    alive(server)


@pytest.mark.parametrize("path", WS_PATHS)
def test_websocket_post_is_405(server, path):
    r, _ = handshake(server, "POST", path, [])
    assert r.status == 405
    alive(server)


@pytest.mark.parametrize("path", ["/disabled_websocket_echo/000/SID/websocket", "/disabled_websocket_echo/websocket"])
def test_websocket_on_disabled_service_is_404(server, path):
    r, _ = handshake(server, "GET", path, handshake_headers())
    assert r.status == 404
    alive(server)


def test_disabled_websocket_service_still_serves_http_transports(server):
    from testkit.sockjshttp import poll

    assert poll(server, "/disabled_websocket_echo", new_sid())[1] == "o"


def test_a_vanished_websocket_client_is_an_interrupted_session_not_a_clean_close(server_factory):
    """The socket ends with no close frame: the handler sees 1002, as over HTTP transports."""
    import json as _json
    import urllib.request

    from testkit.serverproc import poll_until

    fresh = server_factory()
    raw, _ = ws_connect_raw(fresh, f"/echo/000/{new_sid()}/websocket")
    assert ws_recv(raw) == (1, b"o")
    raw.abort()

    def closed_codes():
        with urllib.request.urlopen(fresh.url("/stats"), timeout=5) as response:
            return _json.load(response)["/echo"]["sessions_closed"]

    assert poll_until(closed_codes, 5, "the session to close") == {"1002": 1}
    with sockjs_ws(fresh) as ws:  # a clean close is still 1000
        assert ws.recv(timeout=5) == "o"
    assert poll_until(lambda: closed_codes().get("1000"), 5, "the clean close") == 1
