"""docs/protocol.md sections 3 and 4: /info and the iframe page."""

import json

import pytest

from testkit.rawhttp import request
from testkit.sockjshttp import NO_CACHE, YEAR

IFRAME = """<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="SOCKJS_URL"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe();
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>"""


def iframe_body(url: str) -> list[bytes]:
    """The exact page; a final newline after </html> is tolerated."""
    page = IFRAME.replace("SOCKJS_URL", url).encode("utf-8")
    return [page, page + b"\n"]


def test_info_get_answers_json_with_the_four_fields(server):
    r = request(server, "GET", "/echo/info")
    assert r.status == 200
    assert r.header("Content-Type") == "application/json; charset=UTF-8"
    assert r.header("Cache-Control") == NO_CACHE
    assert not r.has("Set-Cookie")
    info = json.loads(r.body)
    assert set(info) == {"websocket", "cookie_needed", "origins", "entropy"}
    assert info["websocket"] is True
    assert info["cookie_needed"] is False
    assert info["origins"] == ["*:*"]
    assert isinstance(info["entropy"], int) and 0 <= info["entropy"] <= 2**32 - 1


def test_info_entropy_differs_on_every_call(server):
    values = [json.loads(request(server, "GET", "/echo/info").body)["entropy"] for _ in range(6)]
    assert len(set(values)) == len(values)


def test_info_websocket_false_when_service_disables_websockets(server):
    info = json.loads(request(server, "GET", "/disabled_websocket_echo/info").body)
    assert info["websocket"] is False and info["cookie_needed"] is False


@pytest.mark.parametrize("prefix", ["/cookie_needed_echo", "/cookie_callable_echo"])
def test_info_cookie_needed_true_when_jsessionid_is_on(server, prefix):
    info = json.loads(request(server, "GET", prefix + "/info").body)
    assert info["cookie_needed"] is True and info["websocket"] is True


def test_info_options_is_preflight_with_get_allowed(server):
    r = request(server, "OPTIONS", "/echo/info", headers={"Origin": "https://a.example"})
    assert r.status in (200, 204)
    assert r.body == b""
    assert r.header("Access-Control-Allow-Methods") == "OPTIONS, GET"
    assert r.header("Access-Control-Allow-Origin") == "https://a.example"
    assert r.header("Access-Control-Allow-Credentials") == "true"
    assert r.header("Cache-Control") == YEAR
    assert r.header("Access-Control-Max-Age") == "31536000"
    assert r.has("Expires")


def test_iframe_page_is_exact_document_with_configured_absolute_sockjs_url(server_factory):
    url = "https://cdn.example.org/sockjs-client/1.6.1/sockjs.min.js"
    s = server_factory("--sockjs-url", url)
    r = request(s, "GET", "/echo/iframe.html")
    assert r.status == 200
    assert r.header("Content-Type") == "text/html; charset=UTF-8"
    assert r.body in iframe_body(url)


def test_iframe_page_accepts_a_path_as_sockjs_url_and_etag_follows_the_body(server, server_factory):
    s = server_factory("--sockjs-url", "/static/sockjs.js")
    r = request(s, "GET", "/echo/iframe-1.2.3.html")
    assert r.body in iframe_body("/static/sockjs.js")
    default = request(server, "GET", "/echo/iframe-1.2.3.html")
    assert default.header("ETag") and r.header("ETag") and default.header("ETag") != r.header("ETag")


def test_iframe_page_default_server_uses_the_template(server):
    body = request(server, "GET", "/echo/iframe.html").body.decode()
    start = body.index('<script src="') + len('<script src="')
    url = body[start : body.index('"', start)]
    assert url.startswith(("http://", "https://", "/"))
    assert body.encode() in iframe_body(url)


def test_iframe_page_cacheable_for_a_year_with_etag_no_last_modified_no_cookie(server):
    for prefix in ("/echo", "/cookie_needed_echo"):
        r = request(server, "GET", prefix + "/iframe.html", headers={"Cookie": "JSESSIONID=abc"})
        assert r.header("Cache-Control") == YEAR
        assert r.has("Expires")
        assert r.header("ETag")
        assert not r.has("Last-Modified")
        assert not r.has("Set-Cookie")


def test_iframe_if_none_match_current_etag_is_304_without_body_or_type(server):
    etag = request(server, "GET", "/echo/iframe.html").header("ETag")
    r = request(server, "GET", "/echo/iframe.html", headers={"If-None-Match": etag})
    assert r.status == 304
    assert r.body == b""
    assert not r.has("Content-Type")


def test_iframe_if_none_match_other_etag_gets_the_page(server):
    r = request(server, "GET", "/echo/iframe.html", headers={"If-None-Match": '"not-the-etag"'})
    assert r.status == 200 and b"bootstrap_iframe" in r.body


def test_iframe_same_page_and_etag_for_every_version_name(server):
    a = request(server, "GET", "/echo/iframe.html")
    b = request(server, "GET", "/echo/iframe-0.3.4.html?t=1")
    assert a.body == b.body and a.header("ETag") == b.header("ETag")
