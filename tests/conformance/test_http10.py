"""docs/protocol.md section 9: HTTP/1.0 and HTTP/1.1 framing of answers."""

import pytest

from testkit.rawhttp import Raw
from testkit.sockjshttp import new_sid, open_session, send
from testkit.sockjsstream import Receiver

FIXED = [
    ("GET", "/echo", b"", b"Welcome to SockJS!\n"),
    ("GET", "/echo/info", b"", None),
    ("OPTIONS", "/echo/info", b"", b""),
    ("GET", "/echo/iframe.html", b"", None),
    ("POST", "/echo/000/SID/xhr", b"", b"o\n"),
    ("GET", "/echo/000/SID/jsonp?c=cb", b"", b'/**/cb("o");\r\n'),
    ("POST", "/echo/000/OPEN/xhr_send", b'["x"]', b""),
    ("POST", "/echo/000/OPEN/jsonp_send", b'["x"]', b"ok"),
    ("GET", "/echo/nope", b"", None),
    ("GET", "/echo/000/SID/xhr", b"", b""),
]
IDS = [f"{m}-{p.rsplit('/', 1)[-1].split('?')[0] or 'greeting'}" for m, p, _, _ in FIXED]


def fill(server, path):
    if "OPEN" in path:
        path = path.replace("OPEN", open_session(server))
    return path.replace("SID", new_sid())


@pytest.mark.parametrize("method,path,body,expected", FIXED, ids=IDS)
def test_http10_fixed_answer_has_length_or_close_and_never_chunked(server, method, path, body, expected):
    raw = Raw(server)
    raw.send_request(method, fill(server, path), [("Content-Type", "text/plain")], body, version="HTTP/1.0")
    r = raw.read_head()
    assert not r.has("Transfer-Encoding")
    connection = (r.header("Connection") or "").lower()
    assert r.has("Content-Length") or connection == "close"
    body_read = raw.read_body()
    if r.has("Content-Length"):
        assert len(body_read) == int(r.header("Content-Length"))
    if expected is not None:
        assert body_read == expected
    if not r.has("Content-Length"):
        raw.wait_closed()
    raw.close()


@pytest.mark.parametrize("transport", ["xhr_streaming", "eventsource", "htmlfile"])
def test_http10_streaming_has_no_length_no_chunking_and_ends_by_closing(server, transport):
    rx = Receiver(server, "/close", new_sid(), transport, version="HTTP/1.0")
    assert rx.head.status == 200
    assert not rx.head.has("Transfer-Encoding")
    assert not rx.head.has("Content-Length")
    assert rx.frame() == "o"
    assert rx.frame() == 'c[3000,"Go away!"]'
    assert rx.ended()
    assert rx.raw.peer_closed
    rx.close()


def test_http10_streaming_messages_arrive_unframed(server):
    sid = new_sid()
    with Receiver(server, "/echo", sid, "xhr_streaming", version="HTTP/1.0") as rx:
        assert rx.frame() == "o"
        send(server, "/echo", sid, ["plain"])
        assert rx.messages(1) == ["plain"]
        assert b"\r\n" not in rx.raw.body  # no chunk-size lines in the body


def test_http11_fixed_answers_keep_the_connection_alive(server):
    sid = open_session(server)
    with Raw(server) as raw:
        for method, path, body, expected in [
            ("GET", "/echo", b"", b"Welcome to SockJS!\n"),
            ("GET", "/echo/info", b"", None),
            ("POST", f"/echo/000/{sid}/xhr_send", b'["k"]', b""),
            ("POST", f"/echo/000/{sid}/xhr", b"", b'a["k"]\n'),
            ("OPTIONS", f"/echo/000/{sid}/xhr", b"", b""),
            ("GET", "/echo/iframe.html", b"", None),
            ("GET", "/echo/nope", b"", None),
        ]:
            raw.send_request(method, path, [], body)
            r = raw.read_head()
            assert (r.header("Connection") or "").lower() != "close"
            got = raw.read_body()
            if expected is not None:
                assert got == expected
            assert not raw.peer_closed


def test_http11_streaming_uses_chunked_and_terminates_body(server):
    rx = Receiver(server, "/close", new_sid(), "xhr_streaming")
    assert rx.head.header("Transfer-Encoding") == "chunked"
    assert rx.frame() == "o"
    assert rx.frame() == 'c[3000,"Go away!"]'
    assert rx.ended()
    assert rx.raw.end_of_chunks == b"0\r\n\r\n"  # the last chunk, no trailers
    rx.close()
