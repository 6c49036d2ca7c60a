"""Error paths: bad bodies, aborted and malformed requests never stop the server."""

import pytest

from testkit.rawhttp import Raw, request
from testkit.sockjshttp import alive, messages_of, new_sid, open_session, poll, send, session_path


@pytest.mark.parametrize(
    "transport,body,content_type",
    [
        ("xhr_send", b'["\xff\xfe"]', "text/plain"),
        ("xhr_send", b'["\xed\xa0\x80"]', "text/plain; charset=UTF-8"),  # UTF-8-encoded surrogate
        ("xhr_send", b'["ok", "\xc3"]', "application/json"),
        ("jsonp_send", b'["\xff"]', "text/plain"),
        ("jsonp_send", b'd=["\xff"]', "application/x-www-form-urlencoded"),
        ("jsonp_send", b"d=%5B%22%FF%22%5D", "application/x-www-form-urlencoded"),
    ],
    ids=["xhr-ff", "xhr-surrogate", "xhr-truncated", "jsonp-raw", "jsonp-form-raw", "jsonp-form-escaped"],
)
def test_non_utf8_body_is_400_or_500_and_server_keeps_serving(server, transport, body, content_type):
    sid = open_session(server)
    r = request(server, "POST", session_path("/echo", sid, transport), body, {"Content-Type": content_type})
    assert r.status in (400, 500)
    alive(server)
    send(server, "/echo", sid, ["after"])  # the session is still usable
    assert messages_of(poll(server, "/echo", sid)[1]) == ["after"]


def test_body_shorter_than_content_length_then_abort(server):
    sid = open_session(server)
    with Raw(server) as raw:
        raw.send(f'POST /echo/000/{sid}/xhr_send HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n["ab'.encode())
    alive(server)
    send(server, "/echo", sid, ["still"])
    assert messages_of(poll(server, "/echo", sid)[1]) == ["still"]


def test_abort_in_the_middle_of_headers(server):
    raw = Raw(server)
    raw.send(b"POST /echo/000/abc/xhr HTTP/1.1\r\nHost: x\r\nContent-Le")
    raw.abort()
    alive(server)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\r\n\r\n",
        b"HELLO\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /echo/info HTTP/9.9\r\n\r\n",
        b"GET /echo/info HTTP/1.1\r\nNo-Colon-Header\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello
        b"GET /echo/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /echo/000/abc/xhr_send HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /echo/000/abc/xhr_send HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=[
        "empty",
        "no-path",
        "no-target",
        "bad-version",
        "bad-header",
        "tls",
        "binary-path",
        "negative-length",
        "bad-chunk",
    ],
)
def test_malformed_requests_do_not_stop_the_server(server, garbage):
    with Raw(server, timeout=3) as raw:
        raw.send(garbage)
        try:
            raw.read_head()  # any answer (or none) is fine; the server must survive
        except (TimeoutError, ConnectionError):
            pass
    alive(server)


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/echo/000/SID/xhr_send"),
        ("FOO", "/echo/info"),
        ("GET", "/echo/000/SID/jsonp?c=%ZZ"),
        ("GET", "/echo/000/SID/jsonp?c=" + "a" * 5000),
        ("GET", "/echo/" + "a/" * 2000),
        ("GET", "/echo/000/" + "s" * 3000 + "/xhr"),
        ("GET", "/echo/000/SID/jsonp?c=cb&%00=%00"),
        ("POST", "/echo/000/SID/xhr?%ff=%fe"),
    ],
    ids=[
        "wrong-method",
        "unknown-method",
        "bad-percent",
        "huge-callback",
        "deep-path",
        "long-session-id",
        "nul-query",
        "non-utf8-query",
    ],
)
def test_odd_requests_get_an_answer_and_server_keeps_serving(server, method, path):
    r = request(server, method, path.replace("SID", new_sid()))
    assert 200 <= r.status < 600
    alive(server)


def test_aborted_streaming_response_mid_stream_keeps_server_serving(server):
    from testkit.sockjsstream import Receiver

    sid = new_sid()
    rx = Receiver(server, "/echo", sid, "xhr_streaming")
    assert rx.frame() == "o"
    rx.raw.abort()
    for _ in range(3):  # the server writes to the dead socket; it must not care
        request(server, "POST", session_path("/echo", sid, "xhr_send"), b'["x"]')
    alive(server)


def test_oversized_messages_do_not_stop_the_server(server):
    sid = open_session(server)
    body = b'["' + b"x" * (2 * 1024 * 1024) + b'"]'
    try:
        r = request(server, "POST", session_path("/echo", sid, "xhr_send"), body, timeout=10)
        assert r.status in (204, 400, 413, 500)
    except (TimeoutError, ConnectionError):
        pass
    alive(server)
