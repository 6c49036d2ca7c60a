"""docs/protocol.md sections 10 and 11: the conformance services and the handler API."""

import json

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testkit.serverproc import poll_until
from testkit.sockjshttp import alive, collect, messages_of, new_sid, poll, send
from testkit.sockjsstream import Receiver


def ws(server, path):
    return connect(f"ws://{server.host}:{server.port}{path}", open_timeout=5, max_size=None)


def sockjs_ws(server, prefix):
    return ws(server, f"{prefix}/000/{new_sid()}/websocket")


@pytest.mark.parametrize(
    "sent,size", [("1", 2), ("3", 8), ("10", 1024), ("18", 2**18), ("0", 2), ("19", 2), ("-4", 2), ("abc", 2), ("", 2)]
)
def test_amplify_answers_2_to_the_n_x(server, sent, size):
    with sockjs_ws(server, "/amplify") as conn:
        assert conn.recv(timeout=5) == "o"
        conn.send(json.dumps([sent]))
        frame = conn.recv(timeout=10)
    assert json.loads(frame[1:]) == ["x" * size]


def test_amplify_over_xhr(server):
    sid = new_sid()
    assert poll(server, "/amplify", sid)[1] == "o"
    send(server, "/amplify", sid, ["4"])
    assert collect(server, "/amplify", sid, 1) == ["x" * 16]


def test_ticker_sends_tick_every_second_over_websocket(server):
    with sockjs_ws(server, "/ticker") as conn:
        assert conn.recv(timeout=5) == "o"
        assert conn.recv(timeout=3) == 'a["tick!"]'
        assert conn.recv(timeout=3) == 'a["tick!"]'


def test_ticker_over_xhr_streaming(server):
    with Receiver(server, "/ticker", new_sid(), "xhr_streaming") as rx:
        assert rx.frame() == "o"
        assert rx.messages(2, timeout=4) == ["tick!", "tick!"]


@pytest.mark.usefixtures("one_process")
def test_broadcast_reaches_every_open_connection(server):
    with sockjs_ws(server, "/broadcast") as a, sockjs_ws(server, "/broadcast") as b:
        assert a.recv(timeout=5) == "o" and b.recv(timeout=5) == "o"
        sid = new_sid()
        assert poll(server, "/broadcast", sid)[1] == "o"
        tag = new_sid()
        a.send(json.dumps([tag]))

        def next_tagged(conn):
            while True:
                for message in json.loads(conn.recv(timeout=5)[1:]):
                    if message == tag:
                        return message

        assert next_tagged(a) == tag
        assert next_tagged(b) == tag
        poll_until(lambda: tag in collect(server, "/broadcast", sid, 1), 5, "the tag over xhr polling")


# ------------------------------------------------------------------ /whoami

SAFE = {
    "referer",
    "x-forwarded-for",
    "x-real-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "via",
    "x-forwarded-proto",
    "host",
    "user-agent",
    "accept-language",
    "dnt",
}
SENT_HEADERS = {
    "User-Agent": "conformance-agent/1.0",
    "X-Forwarded-For": "203.0.113.7",
    "Referer": "http://ref.example/page",
    "Accept-Language": "pl",
    "Authorization": "Bearer s3cret-token",
    "X-Secret": "hush-hush",
    "Cookie": "a=1; JSESSIONID=j2",
}


#: The URL segment of a transport -> the name the application sees (conn.transport).
NAME = {
    "xhr": "xhr-polling",
    "jsonp": "jsonp-polling",
    "xhr_streaming": "xhr-streaming",
    "eventsource": "eventsource",
    "htmlfile": "htmlfile",
    "websocket": "websocket",
    "rawwebsocket": "raw-websocket",
}


def check_whoami(info, transport, path):
    assert info["transport"] == NAME[transport]
    assert info["remote_addr"] == "127.0.0.1"
    assert info["path"] == path
    headers = info["headers"]
    assert set(headers) <= SAFE, set(headers) - SAFE
    assert headers["user-agent"] == "conformance-agent/1.0"
    assert headers["x-forwarded-for"] == "203.0.113.7"
    assert headers["referer"] == "http://ref.example/page"
    assert headers["accept-language"] == "pl"
    assert "host" in headers
    dump = json.dumps(info)
    assert "s3cret-token" not in dump and "hush-hush" not in dump
    assert "authorization" not in headers and "x-secret" not in headers and "cookie" not in headers


@pytest.mark.parametrize("transport", ["xhr", "jsonp"])
def test_whoami_polling_reports_transport_address_path_and_safe_headers(server, transport):
    sid = new_sid()
    poll(server, "/whoami", sid, transport, headers=SENT_HEADERS)
    _, frame = poll(server, "/whoami", sid, transport, headers=SENT_HEADERS)
    info = json.loads(messages_of(frame)[0])
    check_whoami(info, transport, "/whoami")
    assert sid not in json.dumps(info)  # the application never sees the session id
    assert info["cookies"] == {"a": "1", "JSESSIONID": "j2"}


@pytest.mark.parametrize("transport", ["xhr_streaming", "eventsource", "htmlfile"])
def test_whoami_streaming_reports_transport_and_safe_headers(server, transport):
    sid = new_sid()
    with Receiver(server, "/whoami", sid, transport, headers=list(SENT_HEADERS.items())) as rx:
        assert rx.frame() == "o"
        info = json.loads(rx.messages(1)[0])
    check_whoami(info, transport, "/whoami")
    assert sid not in json.dumps(info)
    assert info["cookies"] == {"a": "1", "JSESSIONID": "j2"}


@pytest.mark.parametrize("kind", ["websocket", "rawwebsocket"])
def test_whoami_websockets_report_transport_and_safe_headers(server, kind):
    sid = new_sid()
    path = f"/whoami/000/{sid}/websocket" if kind == "websocket" else "/whoami/websocket"
    headers = dict(SENT_HEADERS)
    del headers["User-Agent"]
    with connect(
        f"ws://{server.host}:{server.port}{path}",
        open_timeout=5,
        additional_headers=headers,
        user_agent_header="conformance-agent/1.0",
    ) as conn:
        if kind == "websocket":
            assert conn.recv(timeout=5) == "o"
            info = json.loads(json.loads(conn.recv(timeout=5)[1:])[0])
            conn.send('["echo"]')
            assert conn.recv(timeout=5) == 'a["echo"]'
        else:
            info = json.loads(conn.recv(timeout=5))
            conn.send("echo")
            assert conn.recv(timeout=5) == "echo"
    check_whoami(info, kind, "/whoami")
    assert sid not in json.dumps(info)
    assert info["cookies"] == {"a": "1", "JSESSIONID": "j2"}


# ------------------------------------------------------------------ /crash


def test_crash_closes_session_with_1011_logs_traceback_other_sessions_fine(server):
    with sockjs_ws(server, "/crash") as conn:
        assert conn.recv(timeout=5) == "o"
        conn.send('["boom"]')
        assert conn.recv(timeout=5) == 'c[1011,"Internal error"]'
        with pytest.raises(ConnectionClosed):
            conn.recv(timeout=5)
    server.wait_for_log(r"Traceback[\s\S]*RuntimeError")
    with sockjs_ws(server, "/echo") as other:
        assert other.recv(timeout=5) == "o"
        other.send('["fine"]')
        assert other.recv(timeout=5) == 'a["fine"]'
    alive(server)


def test_crash_over_xhr_close_frame_repeats(server):
    sid = new_sid()
    assert poll(server, "/crash", sid)[1] == "o"
    send(server, "/crash", sid, ["boom"])
    assert poll(server, "/crash", sid)[1] == 'c[1011,"Internal error"]'
    assert poll(server, "/crash", sid)[1] == 'c[1011,"Internal error"]'
    echo_sid = new_sid()
    assert poll(server, "/echo", echo_sid)[1] == "o"
    send(server, "/echo", echo_sid, ["fine"])
    assert poll(server, "/echo", echo_sid)[1] == 'a["fine"]'


def test_crash_on_raw_websocket_closes_with_1011(server):
    with ws(server, "/crash/websocket") as conn:
        conn.send("boom")
        with pytest.raises(ConnectionClosed) as closed:
            conn.recv(timeout=5)
    assert closed.value.rcvd.code == 1011
    assert closed.value.rcvd.reason == "Internal error"


# ------------------------------------------------------------------ /returns


@pytest.mark.parametrize("transport", ["xhr", "jsonp"])
def test_handler_returning_closes_with_1000_normal_closure(server, transport):
    sid = new_sid()
    assert poll(server, "/returns", sid, transport)[1] == "o"
    assert poll(server, "/returns", sid, transport)[1] == 'c[1000,"Normal closure"]'


def test_handler_returning_closes_websocket_with_1000(server):
    with connect(f"ws://{server.host}:{server.port}/returns/000/{new_sid()}/websocket", open_timeout=5) as conn:
        assert conn.recv(timeout=5) == "o"
        assert conn.recv(timeout=5) == 'c[1000,"Normal closure"]'
