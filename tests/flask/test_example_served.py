"""examples/flask_chat served under gevent, driven over real sockets."""

import urllib.parse

import pytest
from websockets.sync.client import connect

from testkit.rawhttp import http
from testkit.serverproc import start_server


@pytest.fixture(scope="module")
def chat_server():
    server = start_server(["examples/flask_chat/app.py", "--port", "0"])
    yield server
    server.stop()


def request(server, method, path, body=None, headers=None):
    _, data, response = http(server, method, path, body, headers)
    return response, data


def login(server, name):
    body = urllib.parse.urlencode({"name": name})
    response, _ = request(server, "POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 302
    return response.getheader("Set-Cookie").split(";")[0]


def test_flask_pages_are_served_beside_sockjs(chat_server):
    response, body = request(chat_server, "GET", "/login")
    assert response.status == 200 and b"<form" in body
    response, body = request(chat_server, "GET", "/chat/info")
    assert response.status == 200 and b'"websocket":true' in body


def test_anonymous_websocket_client_is_refused_before_open(chat_server):
    with connect(f"ws://{chat_server.host}:{chat_server.port}/chat/0/anon/websocket") as ws:
        assert ws.recv() == 'c[3003,"Forbidden"]'


def test_anonymous_polling_client_is_refused_before_open(chat_server):
    _, body = request(chat_server, "POST", "/chat/0/anon-poll/xhr")
    assert body == b'c[3003,"Forbidden"]\n'


def test_logged_in_user_chats_over_websocket_and_polling(chat_server):
    cookie = login(chat_server, "ann")
    url = f"ws://{chat_server.host}:{chat_server.port}/chat/0/ann/websocket"
    with connect(url, additional_headers={"Cookie": cookie}) as ws:
        assert ws.recv() == "o"
        assert ws.recv() == 'a["* ann joined"]'
        bob = login(chat_server, "bob")
        _, body = request(chat_server, "POST", "/chat/0/bob/xhr", headers={"Cookie": bob})
        assert body == b"o\n"
        assert ws.recv() == 'a["* bob joined"]'
        response, _ = request(chat_server, "POST", "/chat/0/bob/xhr_send", '["hi ann"]', {"Cookie": bob})
        assert response.status == 204
        assert ws.recv() == 'a["bob: hi ann"]'


def test_another_sites_page_cannot_chat_as_the_logged_in_user(chat_server):
    """Cross-site WebSocket hijacking: the victim's cookie rides along, the origin gives it away."""
    from websockets.exceptions import InvalidStatus

    cookie = login(chat_server, "victim")
    url = f"ws://{chat_server.host}:{chat_server.port}/chat/0/hijack/websocket"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, additional_headers={"Cookie": cookie}, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    response, _ = request(
        chat_server,
        "GET",
        "/chat/0/steal/jsonp?c=cb",
        headers={"Cookie": cookie, "Referer": "https://evil.example/page.html"},
    )
    assert response.status == 403
    own = f"http://{chat_server.host}:{chat_server.port}"
    with connect(url, additional_headers={"Cookie": cookie}, origin=own) as ws:  # the app's own page
        assert ws.recv() == "o"
