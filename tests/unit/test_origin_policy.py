"""The allowed_origins policy, decided from request headers."""

import pytest

from sockjs_gevent import OptionsError, SockJS
from sockjs_gevent.origins import OriginPolicy, request_origin

POLICY = OriginPolicy(["https://app.example.com", "https://*.example.org", "http://localhost:*"])


@pytest.mark.parametrize("environ, allowed", [
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
])
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


@pytest.mark.parametrize("bad", ["", [], [""], 42, [None]])
def test_bad_allowed_origins_fail_at_construction(bad):
    with pytest.raises(OptionsError, match="allowed_origins|origin"):
        SockJS(lambda conn: None, allowed_origins=bad)
