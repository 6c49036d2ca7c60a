"""docs/protocol.md section 8: the JSESSIONID cookie (option and callable form)."""

import pytest

from testkit.rawhttp import Raw, request
from testkit.sockjshttp import new_sid, poll

SESSION_REQUESTS = [
    ("POST", "/000/SID/xhr", b""),
    ("POST", "/000/SID/xhr_streaming", b""),
    ("GET", "/000/SID/eventsource", b""),
    ("GET", "/000/SID/htmlfile?c=cb", b""),
    ("GET", "/000/SID/jsonp?c=cb", b""),
    ("POST", "/000/OPEN/xhr_send", b'["x"]'),
    ("POST", "/000/OPEN/jsonp_send", b'd=["x"]'),
    ("OPTIONS", "/000/SID/xhr", b""),
    ("OPTIONS", "/000/SID/xhr_send", b""),
    ("OPTIONS", "/000/SID/xhr_streaming", b""),
]
IDS = [f"{m}-{p.rsplit('/', 1)[-1].split('?')[0]}" for m, p, _ in SESSION_REQUESTS]


def answer_head(server, prefix, method, path, body, cookie=None):
    sid = new_sid()
    if "OPEN" in path:
        assert poll(server, prefix, sid)[1] == "o"
    headers = [("Content-Type", "application/x-www-form-urlencoded")]
    if cookie:
        headers.append(("Cookie", cookie))
    with Raw(server) as raw:
        raw.send_request(method, prefix + path.replace("OPEN", sid).replace("SID", sid), headers, body)
        r = raw.read_head()
    assert r.status in (200, 204), r.status
    return r


@pytest.mark.parametrize("method,path,body", SESSION_REQUESTS, ids=IDS)
def test_jsessionid_dummy_on_every_session_request(server, method, path, body):
    r = answer_head(server, "/cookie_needed_echo", method, path, body)
    assert r.all("Set-Cookie") == ["JSESSIONID=dummy; path=/"]


@pytest.mark.parametrize("method,path,body", SESSION_REQUESTS, ids=IDS)
def test_jsessionid_echoes_the_request_cookie(server, method, path, body):
    r = answer_head(server, "/cookie_needed_echo", method, path, body, "foo=bar; JSESSIONID=abc123")
    assert r.all("Set-Cookie") == ["JSESSIONID=abc123; path=/"]


@pytest.mark.parametrize("method,path,body", SESSION_REQUESTS, ids=IDS)
def test_jsessionid_callable_sets_its_own_cookie(server, method, path, body):
    r = answer_head(server, "/cookie_callable_echo", method, path, body, "JSESSIONID=abc123")
    assert r.all("Set-Cookie") == ["JSESSIONID=custom; Path=/; HttpOnly"]


@pytest.mark.parametrize("method,path,body", SESSION_REQUESTS[:5], ids=IDS[:5])
def test_no_cookie_when_jsessionid_option_is_off(server, method, path, body):
    r = answer_head(server, "/echo", method, path, body, "JSESSIONID=abc123")
    assert not r.has("Set-Cookie")


@pytest.mark.parametrize("prefix", ["/cookie_needed_echo", "/cookie_callable_echo"])
@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", ""),
        ("GET", "/"),
        ("GET", "/info"),
        ("OPTIONS", "/info"),
        ("GET", "/iframe.html"),
        ("GET", "/iframe-1.0.html"),
    ],
)
@pytest.mark.parametrize("cookie", [None, "JSESSIONID=abc"], ids=["no-cookie", "cookie"])
def test_never_a_cookie_on_info_greeting_or_iframe(server, prefix, method, path, cookie):
    r = request(server, method, prefix + path, headers={"Cookie": cookie} if cookie else {})
    assert r.status in (200, 204)
    assert not r.has("Set-Cookie")
