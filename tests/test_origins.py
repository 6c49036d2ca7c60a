"""Forged origins are refused on every transport before the handler runs."""

import base64
import os
import socket

import pytest

from testkit.rawhttp import http

ALLOWED = "http://allowed.example"
EVIL = "http://evil.example"
PREFIX = "/origin_echo"


def request(server, method, path, headers=None, body=None):
    status, data, _ = http(server, method, path, body, headers)
    return status, data


def new_session(server, origin=ALLOWED):
    sid = os.urandom(6).hex()
    assert request(server, "POST", f"{PREFIX}/0/{sid}/xhr", {"Origin": origin}) == (200, b"o\n")
    return sid


RECEIVING = [
    ("POST", "xhr"),
    ("POST", "xhr_streaming"),
    ("GET", "eventsource"),
    ("GET", "htmlfile?c=cb"),
    ("GET", "jsonp?c=cb"),
]


@pytest.mark.parametrize("method, transport", RECEIVING, ids=[t.split("?")[0] for _, t in RECEIVING])
def test_receiving_transport_refuses_a_forged_origin(server, method, transport):
    sid = os.urandom(6).hex()
    status, body = request(server, method, f"{PREFIX}/0/{sid}/{transport}", {"Origin": EVIL})
    assert status == 403 and b"Forbidden" in body
    # the refused request created no session: xhr_send to it is 404
    assert request(server, "POST", f"{PREFIX}/0/{sid}/xhr_send", {"Origin": ALLOWED}, b'["x"]')[0] == 404


@pytest.mark.parametrize("transport", ["xhr_send", "jsonp_send"])
def test_sending_transport_refuses_a_forged_origin(server, transport):
    sid = new_session(server)
    status, _ = request(
        server, "POST", f"{PREFIX}/0/{sid}/{transport}", {"Origin": EVIL, "Content-Type": "text/plain"}, b'["forged"]'
    )
    assert status == 403
    request(server, "POST", f"{PREFIX}/0/{sid}/xhr_send", {"Origin": ALLOWED}, b'["real"]')
    assert request(server, "POST", f"{PREFIX}/0/{sid}/xhr", {"Origin": ALLOWED}) == (200, b'a["real"]\n')


def test_jsonp_script_from_an_evil_page_is_refused_by_referer(server):
    sid = os.urandom(6).hex()
    assert request(server, "GET", f"{PREFIX}/0/{sid}/jsonp?c=cb", {"Referer": EVIL + "/steal.html"})[0] == 403
    assert request(server, "GET", f"{PREFIX}/0/{sid}/jsonp?c=cb", {"Referer": ALLOWED + "/app.html"})[0] == 200


def test_browser_hiding_its_origin_is_refused(server):
    sid = os.urandom(6).hex()
    assert request(server, "GET", f"{PREFIX}/0/{sid}/jsonp?c=cb", {"Sec-Fetch-Site": "cross-site"})[0] == 403


def test_allowed_wildcard_origin_and_native_clients_pass(server):
    sid = os.urandom(6).hex()
    assert request(server, "POST", f"{PREFIX}/0/{sid}/xhr", {"Origin": "https://app.trusted.example:8443"}) == (
        200,
        b"o\n",
    )
    assert request(server, "POST", f"{PREFIX}/0/{os.urandom(6).hex()}/xhr") == (200, b"o\n")


def test_iframe_page_is_refused_to_an_evil_parent(server):
    assert request(server, "GET", f"{PREFIX}/iframe.html", {"Referer": EVIL + "/x"})[0] == 403
    assert request(server, "GET", f"{PREFIX}/iframe.html", {"Referer": ALLOWED + "/x"})[0] == 200


def upgrade(server, path, origin):
    sock = socket.create_connection((server.host, server.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n".encode()
    )
    head = sock.recv(4096)
    sock.close()
    return head.split(b" ", 2)[1]


@pytest.mark.parametrize("path", [f"{PREFIX}/0/ws/websocket", f"{PREFIX}/websocket"], ids=["websocket", "rawwebsocket"])
def test_websocket_refuses_a_forged_origin_before_the_upgrade(server, path):
    assert upgrade(server, path, EVIL) == b"403"
    assert upgrade(server, path, ALLOWED) == b"101"


def test_preflight_and_info_stay_open(server):
    sid = os.urandom(6).hex()
    assert request(server, "OPTIONS", f"{PREFIX}/0/{sid}/xhr", {"Origin": EVIL})[0] == 204
    assert request(server, "GET", f"{PREFIX}/info", {"Origin": EVIL})[0] == 200
