"""docs/protocol.md section 7: xhr_send and jsonp_send."""

import json
from urllib.parse import quote

import pytest

from testkit.rawhttp import request
from testkit.sockjshttp import NO_CACHE, alive, collect, messages_of, new_sid, open_session, poll, send, session_path

CONTENT_TYPES = [
    "text/plain",
    "T",
    "application/json",
    "application/xml",
    "text/xml",
    None,
    "text/plain; charset=UTF-8",
    "application/json; charset=utf-8",
    "application/xml;charset=UTF-8",
    "text/xml; charset=utf-8",
    "T; charset=UTF-8",
]


@pytest.mark.parametrize("content_type", CONTENT_TYPES, ids=lambda c: str(c))
def test_xhr_send_accepts_any_content_type(server, content_type):
    sid = open_session(server)
    send(server, "/echo", sid, ["x"], content_type=content_type)
    _, frame = poll(server, "/echo", sid)
    assert messages_of(frame) == ["x"]


def test_xhr_send_answers_204_empty_text_plain_no_cache(server):
    sid = open_session(server)
    r = send(server, "/echo", sid, ["x"])
    assert r.body == b""
    assert r.header("Content-Type") == "text/plain; charset=UTF-8"
    assert r.header("Cache-Control") == NO_CACHE
    assert r.header("Access-Control-Allow-Origin") == "*"
    assert not r.has("Expires") and not r.has("Last-Modified")


def test_xhr_send_empty_body_is_500_payload_expected(server):
    sid = open_session(server)
    r = request(server, "POST", session_path("/echo", sid, "xhr_send"), b"")
    assert r.status == 500 and b"Payload expected." in r.body
    alive(server)


@pytest.mark.parametrize("body", [b'["x"', b"x", b"[x]", b'["a",]', b"{"])
def test_xhr_send_unparsable_json_is_500_broken_json(server, body):
    sid = open_session(server)
    r = request(server, "POST", session_path("/echo", sid, "xhr_send"), body)
    assert r.status == 500 and b"Broken JSON encoding." in r.body
    alive(server)


def test_xhr_send_empty_array_is_accepted_and_delivers_nothing(server):
    sid = open_session(server)
    send(server, "/echo", sid, [])
    send(server, "/echo", sid, ["after"])
    _, frame = poll(server, "/echo", sid)
    assert messages_of(frame) == ["after"]


@pytest.mark.parametrize("transport", ["xhr_send", "jsonp_send"])
def test_send_to_unknown_session_is_404(server, transport):
    r = request(server, "POST", session_path("/echo", new_sid(), transport), b'["x"]', {"Content-Type": "text/plain"})
    assert r.status == 404
    alive(server)


def test_xhr_send_messages_reach_handler_in_order(server):
    sid = open_session(server)
    expected = [str(i) for i in range(40)]
    for i in range(0, 40, 4):
        send(server, "/echo", sid, expected[i : i + 4])
    assert collect(server, "/echo", sid, 40) == expected


def jsonp_send(server, sid, body, content_type):
    return request(server, "POST", session_path("/echo", sid, "jsonp_send"), body, {"Content-Type": content_type})


@pytest.mark.parametrize(
    "body,content_type",
    [
        ("d=" + quote(json.dumps(["x + y & z %"])), "application/x-www-form-urlencoded"),
        ("d=" + quote(json.dumps(["x + y & z %"])) + "&other=1", "application/x-www-form-urlencoded"),
        (json.dumps(["x + y & z %"]), "text/plain"),
        (json.dumps(["x + y & z %"]), "text/plain; charset=UTF-8"),
    ],
    ids=["form", "form-extra-field", "text-plain", "text-plain-charset"],
)
def test_jsonp_send_form_or_raw_answers_200_ok(server, body, content_type):
    sid = new_sid()
    poll(server, "/echo", sid, "jsonp")
    r = jsonp_send(server, sid, body, content_type)
    assert r.status == 200
    assert r.body == b"ok"
    assert r.header("Content-Type") == "text/plain; charset=UTF-8"
    assert r.header("Cache-Control") == NO_CACHE
    _, frame = poll(server, "/echo", sid, "jsonp")
    assert messages_of(frame) == ["x + y & z %"]


@pytest.mark.parametrize(
    "body,content_type",
    [
        ("", "application/x-www-form-urlencoded"),
        ("d=", "application/x-www-form-urlencoded"),
        ("e=1", "application/x-www-form-urlencoded"),
        ("", "text/plain"),
    ],
    ids=["empty-form", "d-empty", "no-d", "empty-text"],
)
def test_jsonp_send_without_payload_is_500_payload_expected(server, body, content_type):
    sid = open_session(server)
    r = jsonp_send(server, sid, body, content_type)
    assert r.status == 500 and b"Payload expected." in r.body
    alive(server)


@pytest.mark.parametrize(
    "body,content_type",
    [
        ("d=" + quote('["x"'), "application/x-www-form-urlencoded"),
        ('["x"', "text/plain"),
    ],
    ids=["form", "text-plain"],
)
def test_jsonp_send_broken_json_is_500_broken_json(server, body, content_type):
    sid = open_session(server)
    r = jsonp_send(server, sid, body, content_type)
    assert r.status == 500 and b"Broken JSON encoding." in r.body
    alive(server)


def test_jsonp_send_empty_array_is_ok_and_delivers_nothing(server):
    sid = open_session(server)
    assert jsonp_send(server, sid, "d=[]", "application/x-www-form-urlencoded").body == b"ok"
    send(server, "/echo", sid, ["after"])
    _, frame = poll(server, "/echo", sid)
    assert messages_of(frame) == ["after"]
