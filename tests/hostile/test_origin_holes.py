"""allowed_origins without holes, over real sockets against /origin_echo
(which allows http://allowed.example and https://*.trusted.example:*)."""

from __future__ import annotations

import pytest

from testkit.rawhttp import Raw, request
from testkit.sockjshttp import new_sid, session_path
from testkit.wsframe import handshake_headers

PREFIX = "/origin_echo"
ALLOWED = "http://allowed.example"

# A page that hides its referrer (<meta name=referrer content=no-referrer>)
# sends neither Origin nor Referer with a <script>, an <iframe> or an
# EventSource; only Sec-Fetch-Site tells where it is.
HIDDEN = [
    ("GET", "jsonp?c=cb"),
    ("GET", "htmlfile?c=cb"),
    ("GET", "eventsource"),
]


@pytest.mark.parametrize("fetch_site", ["same-site", "cross-site"])
@pytest.mark.parametrize("method,transport", HIDDEN, ids=[t.split("?")[0] for _, t in HIDDEN])
def test_a_page_hiding_its_origin_is_refused(server, fetch_site, method, transport):
    path = session_path(PREFIX, new_sid(), transport)
    r = request(server, method, path, headers={"Sec-Fetch-Site": fetch_site, "Cookie": "session=victim"})
    assert r.status == 403, r.body


@pytest.mark.parametrize("fetch_site", ["same-site", "cross-site"])
def test_the_iframe_page_is_refused_to_a_page_hiding_its_origin(server, fetch_site):
    r = request(
        server, "GET", PREFIX + "/iframe.html", headers={"Sec-Fetch-Site": fetch_site, "Sec-Fetch-Dest": "iframe"}
    )
    assert r.status == 403


@pytest.mark.parametrize("fetch_site", [None, "same-origin", "none"])
def test_requests_no_other_page_made_are_allowed(server, fetch_site):
    headers = {"Sec-Fetch-Site": fetch_site} if fetch_site else {}
    r = request(server, "GET", session_path(PREFIX, new_sid(), "jsonp?c=cb"), headers=headers)
    assert (r.status, r.body) == (200, b'/**/cb("o");\r\n')


def test_the_iframe_page_may_be_framed_only_by_the_allowed_page_that_asked(server):
    r = request(server, "GET", PREFIX + "/iframe.html", headers={"Referer": ALLOWED + "/app.html"})
    assert r.status == 200
    assert r.header("Content-Security-Policy") == f"frame-ancestors 'self' {ALLOWED}"
    assert "Referer" in r.all("Vary")
    etag = r.header("ETag")
    r = request(
        server, "GET", PREFIX + "/iframe.html", headers={"Referer": ALLOWED + "/app.html", "If-None-Match": etag}
    )
    assert r.status == 304 and r.header("Content-Security-Policy") == f"frame-ancestors 'self' {ALLOWED}"
    assert request(server, "GET", PREFIX + "/iframe.html", headers={"Referer": "http://evil.example/"}).status == 403
    assert not request(server, "GET", "/echo/iframe.html").has("Content-Security-Policy")  # allow-all service


def test_the_iframe_pages_own_requests_are_trusted_as_same_origin(server):
    """iframe-xhr-polling: the iframe page, on the service's origin, polls with Origin = that origin."""
    own = f"http://{server.host}:{server.port}"
    sid = new_sid()
    r = request(server, "POST", session_path(PREFIX, sid, "xhr"), headers={"Origin": own})
    assert (r.status, r.body) == (200, b"o\n")
    with Raw(server) as raw:  # iframe-eventsource: a GET whose Referer is the iframe page
        raw.send_request(
            "GET", session_path(PREFIX, new_sid(), "eventsource"), [("Referer", own + PREFIX + "/iframe.html")]
        )
        assert raw.read_head().status == 200


def test_another_port_of_the_same_host_is_not_the_same_origin(server):
    other = f"http://{server.host}:{server.port + 1}"
    r = request(server, "POST", session_path(PREFIX, new_sid(), "xhr"), headers={"Origin": other})
    assert r.status == 403


def test_version_8_handshake_with_an_evil_sec_websocket_origin_gets_no_101(server):
    headers = [h for h in handshake_headers(version=8)] + [("Sec-WebSocket-Origin", "http://evil.example")]
    with Raw(server) as raw:
        raw.send_request("GET", session_path(PREFIX, new_sid(), "websocket"), headers)
        assert raw.read_head().status == 403
    headers[-1] = ("Sec-WebSocket-Origin", ALLOWED)
    with Raw(server) as raw:
        raw.send_request("GET", session_path(PREFIX, new_sid(), "websocket"), headers)
        assert raw.read_head().status == 101


def test_an_unparsable_referer_is_refused_not_a_500(server):
    r = request(
        server,
        "GET",
        session_path(PREFIX, new_sid(), "jsonp?c=cb"),
        headers={"Referer": "http://[::1/x", "Sec-Fetch-Site": "cross-site"},
    )
    assert r.status == 403
    r = request(server, "GET", session_path(PREFIX, new_sid(), "jsonp?c=cb"), headers={"Referer": "http://[::1/x"})
    assert r.status == 200  # no origin at all, and no browser said it was another page
