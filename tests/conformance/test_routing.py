"""docs/protocol.md section 1: which URLs exist under a service base URL."""

import pytest

from testkit.rawhttp import request
from testkit.sockjshttp import alive, messages_of, new_sid, open_session, poll, send


@pytest.mark.parametrize("path", ["/echo", "/echo/"])
def test_greeting_is_plain_text_welcome(server, path):
    r = request(server, "GET", path)
    assert r.status == 200
    assert r.header("Content-Type") == "text/plain; charset=UTF-8"
    assert r.body == b"Welcome to SockJS!\n"


@pytest.mark.parametrize(
    "path",
    [
        "/echo/a",
        "/echo/a.html",
        "/echo//",
        "/echo/a/a/",
        "/echo/a/a",
        "/echo/iframe.htm",
        "/echo/IFRAME.HTML",
        "/echo/iframe-/.html",
        "/echo/iframe-A.html",
        "/echo/iframe",
        "/echo/000/abc",
        "/echo/000/abc/",
        "/echo/000/abc/nonsense",
        "/echo/000/abc/xhr/extra",
    ],
)
def test_unknown_path_under_base_is_404(server, path):
    assert request(server, "GET", path).status == 404
    alive(server)


@pytest.mark.parametrize("ids", ["/a./a", "/a/a.", "/./.", "//", "/", "///", "/a.b/c", "/a/b.c"])
def test_server_or_session_id_with_dot_or_empty_is_404(server, ids):
    assert request(server, "POST", "/echo" + ids + "/xhr").status == 404
    alive(server)


@pytest.mark.parametrize(
    "name",
    [
        "iframe.html",
        "iframe-0.1.2.html",
        "iframe-a.html",
        "iframe0.html",
        "iframe_x-1.2.3.html",
        "iframe.html?t=1234",
        "iframe-0.1.2.html?x=y",
    ],
)
def test_iframe_names_matching_the_pattern_are_served(server, name):
    r = request(server, "GET", "/echo/" + name)
    assert r.status == 200 and b"SockJS.bootstrap_iframe()" in r.body


METHOD_NOT_ALLOWED = [
    ("POST", "/echo", "GET"),
    ("POST", "/echo/info", "GET"),
    ("PUT", "/echo/info", "GET"),
    ("DELETE", "/echo/info", "GET"),
    ("POST", "/echo/iframe.html", "GET"),
    ("GET", "/echo/000/SID/xhr", "POST"),
    ("GET", "/echo/000/SID/xhr_send", "POST"),
    ("GET", "/echo/000/SID/xhr_streaming", "POST"),
    ("POST", "/echo/000/SID/eventsource", "GET"),
    ("POST", "/echo/000/SID/htmlfile?c=cb", "GET"),
    ("POST", "/echo/000/SID/jsonp?c=cb", "GET"),
    ("GET", "/echo/000/SID/jsonp_send", "POST"),
    ("PUT", "/echo/000/SID/xhr", "POST"),
]


@pytest.mark.parametrize(
    "method,path,allowed",
    METHOD_NOT_ALLOWED,
    ids=[f"{m}-{p.split('/')[-1] or 'greeting'}" for m, p, _ in METHOD_NOT_ALLOWED],
)
def test_known_path_wrong_method_is_405_with_allow_no_type_empty_body(server, method, path, allowed):
    r = request(server, method, path.replace("SID", new_sid()), body=b"" if method != "GET" else None)
    assert r.status == 405
    allow = [m.strip() for m in (r.header("Allow") or "").split(",")]
    assert allowed in allow and method not in allow
    assert not r.has("Content-Type")
    assert r.body == b""
    alive(server)


def test_server_id_is_ignored_same_session_under_any_server_id(server):
    sid = open_session(server)  # opened under /000/
    send(server, "/echo", sid, ["across"], server_id="999")
    _, frame = poll(server, "/echo", sid, server_id="abc")
    assert messages_of(frame) == ["across"]
