"""docs/protocol.md section 5: xhr-polling and jsonp-polling."""

import pytest

from testkit.rawhttp import Raw, request
from testkit.sockjshttp import NO_CACHE, alive, collect, messages_of, new_sid, open_session, poll, send, session_path


def test_xhr_new_session_answers_open_frame(server):
    r = request(server, "POST", session_path("/echo", new_sid(), "xhr"), b"")
    assert r.status == 200
    assert r.header("Content-Type") == "application/javascript; charset=UTF-8"
    assert r.header("Cache-Control") == NO_CACHE
    assert r.body == b"o\n"


def test_xhr_frame_format_is_frame_then_newline(server):
    sid = open_session(server)
    send(server, "/echo", sid, ["a"])
    r = request(server, "POST", session_path("/echo", sid, "xhr"), b"")
    assert r.body == b'a["a"]\n'


def test_jsonp_frames_are_callback_calls_with_nosniff(server):
    sid = new_sid()
    path = session_path("/echo", sid, "jsonp")
    r = request(server, "GET", path + "?c=my_cb.x-1")
    assert r.status == 200
    assert r.header("Content-Type") == "application/javascript; charset=UTF-8"
    assert r.header("X-Content-Type-Options") == "nosniff"
    assert r.header("Cache-Control") == NO_CACHE
    assert r.body == b'/**/my_cb.x-1("o");\r\n'
    send(server, "/echo", sid, ["x"])
    r = request(server, "GET", path + "?c=cb")
    assert r.body == b'/**/cb("a[\\"x\\"]");\r\n'


def test_jsonp_accepts_callback_parameter_name(server):
    r = request(server, "GET", session_path("/echo", new_sid(), "jsonp") + "?callback=cb2")
    assert r.status == 200 and r.body == b'/**/cb2("o");\r\n'


def test_jsonp_callback_of_32_characters_is_accepted(server):
    cb = "a" * 32
    r = request(server, "GET", session_path("/echo", new_sid(), "jsonp") + "?c=" + cb)
    assert r.status == 200 and r.body == b"/**/" + cb.encode() + b'("o");\r\n'


@pytest.mark.parametrize("transport", ["jsonp", "htmlfile"])
def test_missing_callback_is_500_callback_parameter_required(server, transport):
    r = request(server, "GET", session_path("/echo", new_sid(), transport))
    assert r.status == 500
    assert b'"callback" parameter required' in r.body
    alive(server)


@pytest.mark.parametrize("transport", ["jsonp", "htmlfile"])
@pytest.mark.parametrize("callback", ["a%20b", "a(b)", "%3Cscript%3E", "a;b", "a%2Fb", "%E2%82%AC", "a%22"])
def test_callback_with_bad_characters_is_500_invalid_callback(server, transport, callback):
    r = request(server, "GET", session_path("/echo", new_sid(), transport) + "?c=" + callback)
    assert r.status == 500
    assert b'invalid "callback" parameter' in r.body
    alive(server)


def test_jsonp_callback_longer_than_32_is_500_invalid_callback(server):
    r = request(server, "GET", session_path("/echo", new_sid(), "jsonp") + "?c=" + "a" * 33)
    assert r.status == 500
    assert b'invalid "callback" parameter' in r.body


@pytest.mark.parametrize("transport", ["xhr", "jsonp"])
def test_polling_request_is_held_until_a_frame_arrives(server, transport):
    sid = new_sid()
    poll(server, "/echo", sid, transport)  # "o"
    raw = Raw(server)
    if transport == "xhr":
        raw.send_request("POST", session_path("/echo", sid, "xhr"))
    else:
        raw.send_request("GET", session_path("/echo", sid, "jsonp") + "?c=cb")
    assert raw.quiet_for(0.3), f"poll answered before any frame existed: {raw.buf!r}"
    send(server, "/echo", sid, ["late"])
    head = raw.read_head()
    body = raw.read_body()
    assert head.status == 200
    expected = b'a["late"]\n' if transport == "xhr" else b'/**/cb("a[\\"late\\"]");\r\n'
    assert body == expected
    raw.close()


@pytest.mark.parametrize("transport", ["xhr", "jsonp"])
def test_queued_messages_come_in_one_frame_in_order(server, transport):
    sid = new_sid()
    poll(server, "/echo", sid, transport)
    send(server, "/echo", sid, ["a", "b"])
    send(server, "/echo", sid, ["c"])
    send(server, "/echo", sid, ["d", "e", "f"])
    _, frame = poll(server, "/echo", sid, transport)
    assert messages_of(frame) == ["a", "b", "c", "d", "e", "f"]


def test_nothing_lost_or_duplicated_between_polls(server):
    sid = open_session(server)
    expected = []
    got = []
    for i in range(30):
        batch = [f"m{i}-{j}" for j in range(i % 3 + 1)]
        expected += batch
        send(server, "/echo", sid, batch)
        if i % 4 == 0:
            _, frame = poll(server, "/echo", sid)
            got += messages_of(frame)
    got += collect(server, "/echo", sid, len(expected) - len(got))
    assert got == expected


@pytest.mark.parametrize("first,second", [("xhr", "xhr"), ("xhr", "jsonp"), ("jsonp", "xhr")])
def test_second_poller_gets_2010_and_first_is_untouched(server, first, second):
    sid = new_sid()
    poll(server, "/echo", sid, first)
    held = Raw(server)
    if first == "xhr":
        held.send_request("POST", session_path("/echo", sid, "xhr"))
    else:
        held.send_request("GET", session_path("/echo", sid, "jsonp") + "?c=cb")
    assert held.quiet_for(0.2)
    _, frame = poll(server, "/echo", sid, second)
    assert frame == 'c[2010,"Another connection still open"]'
    send(server, "/echo", sid, ["still here"])
    assert held.read_head().status == 200
    body = held.read_body()
    assert b"still here" in body and b"2010" not in body
    held.close()
