"""The allowed_origins policy, decided from request headers."""

import pytest

from sockjs_gevent import OptionsError, SockJS
from sockjs_gevent.origins import OriginPolicy, request_origin

POLICY = OriginPolicy(["https://app.example.com", "https://*.example.org", "http://localhost:*"])


@pytest.mark.parametrize(
    "environ, allowed",
    [
        ({"HTTP_ORIGIN": "https://app.example.com"}, True),
        ({"HTTP_ORIGIN": "HTTPS://APP.EXAMPLE.COM"}, True),
        ({"HTTP_ORIGIN": "https://a.b.example.org"}, True),
        ({"HTTP_ORIGIN": "http://localhost:3000"}, True),
        ({"HTTP_ORIGIN": "https://evil.example"}, False),
        ({"HTTP_ORIGIN": "https://app.example.com.evil.example"}, False),
        ({"HTTP_ORIGIN": "http://app.example.com"}, False),
        ({"HTTP_ORIGIN": "null"}, False),
        ({"HTTP_REFERER": "https://app.example.com/chat?x=1"}, True),
        ({"HTTP_REFERER": "https://evil.example/page"}, False),
        ({}, True),  # a native client: no browser, no cookies to abuse
        ({"HTTP_SEC_FETCH_SITE": "cross-site"}, False),  # a browser hiding its origin
        ({"HTTP_SEC_FETCH_SITE": "same-origin"}, True),
        ({"HTTP_SEC_FETCH_SITE": "none"}, True),  # typed by the user
        ({"HTTP_SEC_FETCH_SITE": "same-site"}, False),  # another port of this host, hiding its referrer
        ({"HTTP_SEC_FETCH_SITE": "something-new"}, False),
        ({"HTTP_SEC_WEBSOCKET_ORIGIN": "https://evil.example"}, False),  # a version-8 handshake
        ({"HTTP_SEC_WEBSOCKET_ORIGIN": "https://app.example.com"}, True),
        ({"HTTP_REFERER": "http://[::1/x", "HTTP_SEC_FETCH_SITE": "cross-site"}, False),
        # the service's own origin (the iframe page's requests): scheme and Host
        ({"HTTP_ORIGIN": "http://svc.example:8080", "HTTP_HOST": "svc.example:8080", "wsgi.url_scheme": "http"}, True),
        ({"HTTP_ORIGIN": "https://svc.example", "HTTP_HOST": "svc.example:443", "wsgi.url_scheme": "https"}, True),
        (
            {
                "HTTP_REFERER": "https://svc.example/echo/iframe.html",
                "HTTP_HOST": "svc.example",
                "wsgi.url_scheme": "https",
            },
            True,
        ),
        ({"HTTP_ORIGIN": "http://svc.example:8081", "HTTP_HOST": "svc.example:8080", "wsgi.url_scheme": "http"}, False),
        ({"HTTP_ORIGIN": "https://svc.example", "HTTP_HOST": "svc.example", "wsgi.url_scheme": "http"}, False),
        (
            {
                "HTTP_ORIGIN": "https://svc.example",
                "HTTP_HOST": "svc.example",
                "wsgi.url_scheme": "http",
                "HTTP_X_FORWARDED_PROTO": "https",
            },
            True,
        ),  # TLS ended at a proxy
    ],
)
def test_pattern_policy(environ, allowed):
    assert POLICY.allows(environ) is allowed


def test_star_allows_everything_and_callable_decides():
    assert OriginPolicy("*").allows({"HTTP_ORIGIN": "https://anything"})
    policy = OriginPolicy(lambda origin: origin.endswith(".ok"))
    assert policy.allows({"HTTP_ORIGIN": "https://x.ok"})
    assert not policy.allows({"HTTP_ORIGIN": "https://x.bad"})


def test_request_origin_prefers_origin_then_referer():
    assert request_origin({"HTTP_ORIGIN": "https://a", "HTTP_REFERER": "https://b/x"}) == "https://a"
    assert request_origin({"HTTP_REFERER": "https://b:8443/x/y"}) == "https://b:8443"
    assert request_origin({"HTTP_REFERER": "not a url"}) is None
    assert request_origin({"HTTP_REFERER": "http://[::1/x"}) is None


def test_iframe_page_may_be_framed_only_by_the_page_that_asked():
    assert OriginPolicy("*").frame_ancestors({"HTTP_REFERER": "https://x/"}) is None
    assert POLICY.frame_ancestors({"HTTP_REFERER": "https://app.example.com/chat"}) == (
        "frame-ancestors 'self' https://app.example.com"
    )
    assert POLICY.frame_ancestors({}) == "frame-ancestors 'self'"
    same = {"HTTP_REFERER": "http://svc:1/page", "HTTP_HOST": "svc:1", "wsgi.url_scheme": "http"}
    assert POLICY.frame_ancestors(same) == "frame-ancestors 'self'"
    odd = {"HTTP_ORIGIN": "https://a.example.com;script-src *"}
    assert POLICY.frame_ancestors(odd) == "frame-ancestors 'self'"


@pytest.mark.parametrize("pattern", ["example.com", "app.example.com:443", "//example.com", "https://x.com/path"])
def test_a_pattern_that_is_not_an_origin_fails_at_construction_with_the_form_to_write(pattern):
    with pytest.raises(OptionsError, match=r"is not an origin: write the scheme and host, e\.g\. 'https://"):
        SockJS(lambda conn: None, allowed_origins=[pattern])


@pytest.mark.parametrize("bad", ["", [""], 42, [None], "example.com"])
def test_bad_allowed_origins_fail_at_construction(bad):
    with pytest.raises(OptionsError, match="allowed_origins|origin"):
        SockJS(lambda conn: None, allowed_origins=bad)


def test_an_authenticating_service_that_lets_every_page_in_is_warned_about(caplog):
    with caplog.at_level("WARNING", logger="sockjs_gevent"):
        SockJS(lambda conn: None, "/private", before_open=lambda conn: True)
    assert "'/private' authenticates in before_open but lets every web page in" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="sockjs_gevent"):
        SockJS(lambda conn: None, "/public", before_open=lambda conn: True, allowed_origins="*")  # a decision
        SockJS(lambda conn: None, "/mine", before_open=lambda conn: True, allowed_origins=[])
        SockJS(lambda conn: None, "/open")
    assert caplog.text == ""


def test_an_empty_list_allows_only_the_services_own_origin():
    own = OriginPolicy([])
    host = {"HTTP_HOST": "svc:8080", "wsgi.url_scheme": "http"}
    assert own.allows({**host, "HTTP_ORIGIN": "http://svc:8080"})
    assert not own.allows({**host, "HTTP_ORIGIN": "http://other:8080"})


def test_a_refused_session_request_still_carries_the_sticky_cookie():
    from werkzeug.test import Client

    service = SockJS(lambda conn: None, "/s", jsessionid=True, allowed_origins=["https://ok.example"])
    response = Client(service).post("/s/000/abc/xhr", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert response.headers["Set-Cookie"] == "JSESSIONID=dummy; path=/"
