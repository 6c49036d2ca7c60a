"""Client input that used to give a 500, a traceback or a lenient reading.

Each gets a defined answer and at most one log line; the server keeps serving.
The default test server runs on sockjs_gevent's pywsgi handler, whose strict
header reader (httpheaders.py) decides the HTTP rules checked here.
"""

from __future__ import annotations

import os
import re
import socket

import pytest

from sockjs_gevent import SockJS
from sockjs_gevent.testing import HandlerClient
from testkit.rawhttp import Raw, request
from testkit.rawws import ws_connect_raw, ws_recv, ws_send
from testkit.sockjshttp import alive, new_sid, session_path


def exchange(server, data: bytes) -> bytes:
    """Send raw bytes, return the whole answer (until the server closes or 2 s pass)."""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(data)
        answer = b""
        sock.settimeout(2)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return answer


#: How either server logs a request refused for its missing Host header.
HOST_REFUSED = re.compile(r"HTTP/1\.1 requests? (without|need a) Host")


def quiet_log(server):
    """Mark the log, then later check what a request added to it."""
    start = len(server.output)

    def lines_since() -> list[str]:
        # A request the server always logs once, as a barrier: the log is a
        # pipe, and everything before it has arrived once it has.
        marker = f"/barrier-{os.urandom(4).hex()}"
        exchange(server, f"GET {marker} HTTP/1.1\r\n\r\n".encode())  # no Host: refused, logged
        server.wait_for_log(HOST_REFUSED)
        lines = server.output[start:]
        barrier = max(i for i, line in enumerate(lines) if HOST_REFUSED.search(line))
        return [line for line in lines[:barrier] if line.strip()]

    return lines_since


@pytest.mark.parametrize("transport, content_type", [("xhr_send", "text/plain"), ("jsonp_send", "text/plain")])
def test_deeply_nested_json_is_broken_json_not_a_recursion_traceback(server_factory, transport, content_type):
    fresh = server_factory()
    log_since = quiet_log(fresh)
    sid = new_sid()
    assert request(fresh, "POST", session_path("/echo", sid, "xhr")).status == 200
    body = "[" * 100_000 + "]" * 100_000
    r = request(fresh, "POST", session_path("/echo", sid, transport), body, {"Content-Type": content_type})
    assert (r.status, r.body) == (500, b"Broken JSON encoding.")
    assert log_since() == []


def test_deeply_nested_json_over_websocket_is_broken_json(server_factory):
    fresh = server_factory()
    log_since = quiet_log(fresh)
    raw, _ = ws_connect_raw(fresh, f"/echo/000/{new_sid()}/websocket")
    with raw:
        assert ws_recv(raw) == (1, b"o")
        ws_send(raw, "[" * 100_000 + "]" * 100_000)
        assert ws_recv(raw) == (1, b'c[1007,"Broken JSON encoding."]')
    assert not any("Traceback" in line for line in log_since())


def test_a_cookie_that_is_not_utf8_is_no_500(server):
    data = (
        b"POST /cookie_needed_echo/000/" + new_sid().encode() + b"/xhr HTTP/1.1\r\nHost: t\r\n"
        b"Cookie: other=\xff; JSESSIONID=abc\r\nContent-Length: 0\r\n\r\n"
    )
    answer = exchange(server, data)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert b"Set-Cookie: JSESSIONID=abc; path=/" in answer


@pytest.mark.parametrize("header", [b"Origin: http://a\rb", b"Access-Control-Request-Headers: a\rb"])
def test_a_bare_cr_in_an_echoed_header_is_refused_not_a_500(server, header):
    answer = exchange(server, b"OPTIONS /echo/000/s/xhr HTTP/1.1\r\nHost: t\r\n" + header + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    alive(server)


def test_echoed_values_that_would_break_a_header_block_are_not_echoed():
    """Under servers that pass such a value through, CORS falls back to '*'."""
    from sockjs_gevent.responses import cors

    assert dict(cors({"HTTP_ORIGIN": "http://a\rb"}))["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Headers" not in dict(cors({"HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "a\nb"}))


@pytest.mark.parametrize(
    "partial",
    [
        b"GET /echo/info HTTP/1.1\r\nHost: x\r\nX-A",  # reset inside the head
        b'POST /echo/000/SID/xhr_send HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n["ab',  # inside the body
        b"POST /echo/000/SID/xhr_streaming HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",  # while streaming
        b"GET /echo/iframe.html HTTP/1.1\r\nHost: x\r\n\r\n",  # before reading the answer
    ],
    ids=["head", "body", "stream", "answer"],
)
def test_a_client_that_resets_mid_request_leaves_at_most_one_log_line(server_factory, partial):
    fresh = server_factory()
    log_since = quiet_log(fresh)
    sid = new_sid()
    assert request(fresh, "POST", session_path("/echo", sid, "xhr")).status == 200
    for _ in range(20):
        raw = Raw(fresh)
        raw.send(partial.replace(b"SID", sid.encode()))
        raw.abort()
    lines = log_since()
    assert not any("Traceback" in line for line in lines), "".join(lines)
    assert len(lines) <= 20, "".join(lines)
    alive(fresh)


LENIENT = [
    (b"Content-Length: 3\r\nContent-Length: 30\r\n", b"abc"),
    (b"Content-Length: 1_0\r\n", b"0123456789"),
    (b"Content-Length: +10\r\n", b"0123456789"),
    (b"Transfer-Encoding: gzip, chunked\r\n", b"3\r\nabc\r\n0\r\n\r\n"),
    (b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", b"3\r\nabc\r\n0\r\n\r\n"),
    (b"X-Folded: a\r\n b\r\n", b""),
    (b"X-Nul: a\x00b\r\n", b""),
]


@pytest.mark.parametrize(
    "block, body",
    LENIENT,
    ids=["dup-length", "length-underscore", "length-plus", "te-gzip", "te-and-length", "folded", "nul"],
)
def test_ambiguous_or_malformed_requests_get_400_and_nothing_smuggled(server, block, body):
    smuggled = b"GET /echo/info HTTP/1.1\r\nHost: t\r\n\r\n"
    answer = exchange(
        server,
        b"POST /echo/000/" + new_sid().encode() + b"/xhr HTTP/1.1\r\nHost: t\r\n" + block + b"\r\n" + body + smuggled,
    )
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1, answer  # the smuggled request was not answered
    alive(server)


def test_http11_without_host_is_400(server):
    assert exchange(server, b"GET /echo/info HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert exchange(server, b"GET /echo/info HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 200 ")  # 1.0 needs none


def test_a_websocket_upgrade_over_http10_is_400(server):
    answer = exchange(
        server,
        b"GET /echo/000/s/websocket HTTP/1.0\r\nHost: t\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n",
    )
    assert b" 400 " in answer.split(b"\r\n")[0] and b"HTTP/1.1" in answer.split(b"\r\n\r\n", 1)[1]  # says why


def test_a_head_over_16_kib_is_431_and_the_server_keeps_serving(server):
    answer = exchange(
        server,
        b"GET /echo/info HTTP/1.1\r\nHost: t\r\n"
        + b"".join(b"X-Big-%d: %s\r\n" % (i, b"v" * 200) for i in range(95))
        + b"\r\n",
    )  # 20 KB
    assert answer.startswith(b"HTTP/1.1 431 ")
    alive(server)


def test_an_open_session_keeps_only_the_headers_a_connection_exposes():
    seen = {}

    def before_open(conn):
        seen.update(conn.environ)

    service = SockJS(lambda conn: conn.recv(), "/s", before_open=before_open, allowed_origins="*")
    headers = {"X-Junk": "j" * 15000, "Authorization": "Bearer t", "User-Agent": "ua", "Cookie": "a=1"}
    with HandlerClient(service, headers=headers) as client:
        assert seen["HTTP_X_JUNK"] == "j" * 15000  # the hook sees the whole opening request
        environ = client.session.connection.environ if client.session.connection else client.session.info.environ
        assert "HTTP_X_JUNK" not in environ and "HTTP_AUTHORIZATION" not in environ
        assert environ["HTTP_USER_AGENT"] == "ua" and environ["HTTP_COOKIE"] == "a=1"


def test_a_callback_with_a_trailing_newline_is_invalid(server):
    r = request(server, "GET", session_path("/echo", new_sid(), "jsonp?c=abc%0A"))
    assert r.status == 500 and b'invalid "callback" parameter' in r.body
    r = request(server, "GET", session_path("/echo", new_sid(), "htmlfile?c=abc%0A"))
    assert r.status == 500 and b'invalid "callback" parameter' in r.body
