"""docs/protocol.md section 8: caching and CORS headers."""

import time
from email.utils import parsedate_to_datetime

import pytest

from testkit.rawhttp import Raw, request
from testkit.sockjshttp import NO_CACHE, YEAR, new_sid, open_session


def head_of(server, method, path, headers=(), body=b""):
    """Status and headers of an answer, without waiting for a streaming body."""
    sid = open_session(server) if "SEND" in path else new_sid()
    path = path.replace("SEND", "SID").replace("SID", sid)
    with Raw(server) as raw:
        raw.send_request(method, path, headers, body)
        return raw.read_head()


SESSION_ANSWERS = [
    ("POST", "/echo/000/SID/xhr", b""),
    ("POST", "/echo/000/SID/xhr_streaming", b""),
    ("GET", "/echo/000/SID/eventsource", b""),
    ("GET", "/echo/000/SID/htmlfile?c=cb", b""),
    ("GET", "/echo/000/SID/jsonp?c=cb", b""),
    ("POST", "/echo/000/SEND/xhr_send", b'["x"]'),
    ("POST", "/echo/000/SEND/jsonp_send", b'd=["x"]'),
    ("GET", "/echo/info", b""),
]
IDS = [p.rsplit("/", 1)[-1].split("?")[0] for _, p, _ in SESSION_ANSWERS]


@pytest.mark.parametrize("method,path,body", SESSION_ANSWERS, ids=IDS)
def test_no_cache_header_exact_and_no_expires_or_last_modified(server, method, path, body):
    headers = [("Content-Type", "application/x-www-form-urlencoded")] if b"d=" in body else []
    r = head_of(server, method, path, headers, body)
    assert r.status in (200, 204)
    assert r.header("Cache-Control") == NO_CACHE
    assert not r.has("Expires")
    assert not r.has("Last-Modified")


def assert_cached_for_a_year(r):
    assert r.header("Cache-Control") == YEAR
    expires = parsedate_to_datetime(r.header("Expires")).timestamp()
    assert abs(expires - (time.time() + 31536000)) < 2 * 86400


OPTIONS_PATHS = {
    "/echo/info": "OPTIONS, GET",
    "/echo/000/SID/xhr": "OPTIONS, POST",
    "/echo/000/SID/xhr_send": "OPTIONS, POST",
    "/echo/000/SID/xhr_streaming": "OPTIONS, POST",
}


@pytest.mark.parametrize("path", list(OPTIONS_PATHS), ids=lambda p: p.rsplit("/", 1)[-1])
def test_options_is_empty_preflight_cached_a_year_with_allow_methods(server, path):
    r = request(server, "OPTIONS", path.replace("SID", new_sid()), headers={"Origin": "http://x.test"})
    assert r.status in (200, 204)
    assert r.body == b""
    assert_cached_for_a_year(r)
    assert r.header("Access-Control-Max-Age") == "31536000"
    assert r.header("Access-Control-Allow-Methods") == OPTIONS_PATHS[path]
    assert r.header("Access-Control-Allow-Origin") == "http://x.test"
    assert r.header("Access-Control-Allow-Credentials") == "true"


def test_iframe_page_is_cached_for_a_year(server):
    r = request(server, "GET", "/echo/iframe.html")
    assert_cached_for_a_year(r)


CORS_ANSWERS = [
    ("GET", "/echo/info", b""),
    ("OPTIONS", "/echo/info", b""),
    ("POST", "/echo/000/SID/xhr", b""),
    ("OPTIONS", "/echo/000/SID/xhr", b""),
    ("POST", "/echo/000/SID/xhr_streaming", b""),
    ("OPTIONS", "/echo/000/SID/xhr_streaming", b""),
    ("POST", "/echo/000/SEND/xhr_send", b'["x"]'),
    ("OPTIONS", "/echo/000/SID/xhr_send", b""),
    ("GET", "/echo/000/SID/eventsource", b""),
]
CORS_IDS = [f"{m}-{p.rsplit('/', 1)[-1]}" for m, p, _ in CORS_ANSWERS]


def vary_has_origin(r):
    return any("origin" in [v.strip().lower() for v in value.split(",")] for value in r.all("Vary"))


@pytest.mark.parametrize("method,path,body", CORS_ANSWERS, ids=CORS_IDS)
@pytest.mark.parametrize("origin", ["https://app.example:8443", "null"])
def test_cors_echoes_origin_with_credentials(server, method, path, body, origin):
    r = head_of(server, method, path, [("Origin", origin)], body)
    assert r.all("Access-Control-Allow-Origin") == [origin]
    assert r.all("Access-Control-Allow-Credentials") == ["true"]
    assert vary_has_origin(r)


@pytest.mark.parametrize("method,path,body", CORS_ANSWERS, ids=CORS_IDS)
def test_cors_without_origin_is_star_without_credentials(server, method, path, body):
    r = head_of(server, method, path, [], body)
    assert r.all("Access-Control-Allow-Origin") == ["*"]
    assert not r.has("Access-Control-Allow-Credentials")
    assert vary_has_origin(r)


@pytest.mark.parametrize("method,path,body", CORS_ANSWERS, ids=CORS_IDS)
def test_cors_echoes_nonempty_request_headers(server, method, path, body):
    r = head_of(
        server, method, path, [("Origin", "http://a.test"), ("Access-Control-Request-Headers", "a, b, X-Custom")], body
    )
    assert r.all("Access-Control-Allow-Headers") == ["a, b, X-Custom"]


@pytest.mark.parametrize("method,path,body", CORS_ANSWERS, ids=CORS_IDS)
@pytest.mark.parametrize("acrh", [None, ""], ids=["absent", "empty"])
def test_cors_no_allow_headers_when_request_headers_absent_or_empty(server, method, path, body, acrh):
    headers = [("Origin", "http://a.test")]
    if acrh is not None:
        headers.append(("Access-Control-Request-Headers", acrh))
    r = head_of(server, method, path, headers, body)
    assert not r.has("Access-Control-Allow-Headers")


# Errors under the base URL carry CORS too, so a page on another origin reads
# the status (a 404 for a wrong URL) instead of an opaque network error.
ERROR_ANSWERS = [
    ("GET", "/echo/nope", b"", 404),
    ("GET", "/echo/a/b/c/d", b"", 404),
    ("POST", "/echo/000/SID/xhr_send", b'["x"]', 404),  # no such session
    ("POST", "/echo/000/SID/nope", b"", 404),
    ("GET", "/echo/000/SID/xhr", b"", 405),
    ("POST", "/echo/info", b"", 405),
    ("POST", "/echo/000/SEND/xhr_send", b"", 500),  # Payload expected.
    ("POST", "/echo/000/SEND/xhr_send", b"[", 500),  # Broken JSON encoding.
    ("GET", "/echo/000/SID/jsonp", b"", 500),  # "callback" parameter required
    ("GET", "/echo/000/SID/websocket", b"", 400),  # not an upgrade
    ("GET", "/echo/websocket", b"", 400),
    ("POST", "/echo/000/SEND/xhr_send", b'["' + b"x" * (1024 * 1024) + b'"]', 413),
]
ERROR_IDS = [f"{code}-{m}-{p.rsplit('/', 1)[-1]}" for m, p, _, code in ERROR_ANSWERS]


@pytest.mark.parametrize("method,path,body,code", ERROR_ANSWERS, ids=ERROR_IDS)
def test_error_answers_carry_cors(server, method, path, body, code):
    r = head_of(server, method, path, [("Origin", "https://other.example")], body)
    assert r.status == code
    assert r.all("Access-Control-Allow-Origin") == ["https://other.example"]
    assert r.all("Access-Control-Allow-Credentials") == ["true"]
    assert vary_has_origin(r)
    r = head_of(server, method, path, [], body)
    assert r.status == code
    assert r.all("Access-Control-Allow-Origin") == ["*"]


def test_origin_refusal_is_readable_by_the_refused_page(server):
    """The 403 says why; it carries nothing a refused page should not read."""
    r = head_of(server, "POST", "/origin_echo/000/SID/xhr", [("Origin", "https://other.example")])
    assert r.status == 403
    assert r.all("Access-Control-Allow-Origin") == ["https://other.example"]


@pytest.mark.parametrize("path", ["/echo/000/SID/eventsource", "/echo/000/SID/htmlfile", "/echo/000/SID/jsonp"])
def test_options_on_get_transports_is_405_listing_get(server, path):
    r = request(server, "OPTIONS", path.replace("SID", new_sid()), headers={"Origin": "http://x.test"})
    assert r.status == 405 and r.header("Allow") == "GET"
