"""The upgrade accepted without the websockets library is one the library accepts, with the same answer."""

from __future__ import annotations

import base64
import io

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from websockets.protocol import State
from websockets.server import ServerProtocol

from sockjs_gevent.websocket.handshake import _handshake_request, plain_upgrade

GOOD_KEY = base64.b64encode(b"0123456789abcdef").decode()


GOOD = {
    "connection": [
        "Upgrade",
        "upgrade",
        "keep-alive, Upgrade",
        "Upgrade, keep-alive",
        "UPGRADE",
        "Upgrade ,\tclose",
        "x-upgrade, Upgrade",
    ],
    "upgrade": ["websocket", "WebSocket", "WEBSOCKET"],
    "sec_websocket_key": [GOOD_KEY, "AAAAAAAAAAAAAAAAAAAAAA==", base64.b64encode(b"\xff" * 16).decode()],
    "sec_websocket_version": ["13", "8"],
    "sec_websocket_protocol": [None],
    "sec_websocket_extensions": [
        None,
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate",
        "x-webkit-deflate-frame",
        ";;;",
    ],
}
ODD = {
    "connection": [
        "close",
        "keep-alive",
        "Upgrade,",
        ",Upgrade",
        "Up grade",
        "Upgrade;x",
        "Upgrade, , close",
        " Upgrade",
        "Upgrade ",
        "upgrade-x",
        "",
    ],
    "upgrade": ["websocket, h2c", "h2c", "websocket/13", " websocket", "websocket ", "web socket", ""],
    "sec_websocket_key": [
        base64.b64encode(b"x" * 15).decode(),
        base64.b64encode(b"x" * 17).decode(),
        GOOD_KEY[:-2],
        GOOD_KEY + " ",
        " " + GOOD_KEY,
        GOOD_KEY.replace("M", "*"),
        GOOD_KEY + ", " + GOOD_KEY,
        "",
    ],
    "sec_websocket_version": ["12", "7", "13, 8", " 13", ""],
    "sec_websocket_protocol": ["chat", "chat, superchat", "", ";;"],
    "sec_websocket_extensions": ["permessage-deflate; server_max_window_bits=8"],
}


#: What an HTTP server passes on in a header value (WSGI: latin-1 text, no control characters but tab).
HEADER_VALUE = st.characters(codec="latin-1", blacklist_categories=("Cc",)) | st.just("\t")


@st.composite
def upgrade_headers(draw: st.DrawFn) -> dict[str, object]:
    """A browser-like upgrade with none, one or a few of its headers made odd, missing or random."""
    odd = draw(st.sets(st.sampled_from(sorted(GOOD)), max_size=3))
    headers = {}
    for name in GOOD:
        if name in odd:
            headers[name] = draw(st.one_of(st.sampled_from(ODD[name]), st.none(), st.text(HEADER_VALUE, max_size=30)))
        else:
            headers[name] = draw(st.sampled_from(GOOD[name]))
    return headers


def environ(**headers: object) -> dict[str, str]:
    env = {
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": "/echo/000/s/websocket",
        "HTTP_HOST": "127.0.0.1:8080",
    }
    for name, value in headers.items():
        if value is not None:
            env["HTTP_" + name.upper()] = value  # type: ignore[assignment]
    return env


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(upgrade_headers())
def test_what_the_fast_path_accepts_the_library_accepts_identically(headers):
    env = environ(**headers)
    answer = plain_upgrade(env)
    event("fast path" if answer is not None else "left to the library")
    if answer is None:
        return  # the library decides; nothing to compare
    response = ServerProtocol(state=State.OPEN).accept(_handshake_request(env))
    assert response.status_code == 101
    assert answer == [(k, v) for k, v in response.headers.raw_items() if k.lower() != "date"]


def test_what_browsers_send_takes_the_fast_path():
    chromium = environ(
        connection="Upgrade",
        upgrade="websocket",
        sec_websocket_key=GOOD_KEY,
        sec_websocket_version="13",
        sec_websocket_extensions="permessage-deflate; client_max_window_bits",
    )
    firefox = environ(
        connection="keep-alive, Upgrade",
        upgrade="websocket",
        sec_websocket_key=GOOD_KEY,
        sec_websocket_version="13",
        sec_websocket_extensions="permessage-deflate",
    )
    for env in (chromium, firefox):
        assert plain_upgrade(env) == [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", "BACScCJPNqyz+UBoqMH89VmURoA="),
        ]


def test_anything_unusual_is_left_to_the_library():
    base = dict(connection="Upgrade", upgrade="websocket", sec_websocket_key=GOOD_KEY, sec_websocket_version="13")
    for change in (
        {"sec_websocket_protocol": "chat"},
        {"connection": "Up grade"},
        {"upgrade": "websocket, h2c"},
        {"sec_websocket_key": GOOD_KEY[:-2]},
        {"sec_websocket_version": "12"},
        {"connection": None},
    ):
        assert plain_upgrade(environ(**{**base, **change})) is None, change


def test_a_control_character_in_a_header_is_400_not_500():
    from sockjs_gevent.websocket.handshake import accept

    env = environ(
        connection="Upgrade",
        upgrade="websocket",
        sec_websocket_key=GOOD_KEY,
        sec_websocket_version="13",
        sec_websocket_protocol="chat\x01",
    )
    env["wsgi.input"] = io.BytesIO()
    statuses = []
    body = accept(env, lambda status, headers, exc_info=None: statuses.append(status), 1024).answer
    assert statuses[0].startswith("400") and b"Not a valid websocket request" in b"".join(body)
