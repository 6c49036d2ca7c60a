"""What ``ConnectionInfo`` keeps of the opening request's environ."""

from __future__ import annotations

import io

from sockjs_gevent.connection import ConnectionInfo

#: What the opening request says of itself, all kept.
FACTS = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "/app",
    "QUERY_STRING": "a=1",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8080",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "10.0.0.7",
    "REMOTE_PORT": "51000",
    "wsgi.url_scheme": "https",
}
#: The headers an open connection shows (Authorization is not one).
SAFE = {"HTTP_HOST": "example.com", "HTTP_USER_AGENT": "test", "HTTP_COOKIE": "a=b", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}
FULL = {
    **FACTS,
    **SAFE,
    "PATH_INFO": "/echo/0/s1/websocket",
    "wsgi.input": io.BytesIO(b"secret body"),
    "wsgi.errors": io.StringIO(),
    "wsgi.multithread": True,
    "HTTP_AUTHORIZATION": "Bearer secret",
}


def test_an_open_connection_keeps_the_request_facts_and_the_safe_headers_only():
    info = ConnectionInfo("websocket", FULL, "/echo", all_headers=False)
    assert info.environ == {
        **FACTS,
        **SAFE,
        "PATH_INFO": "/echo",  # the service's path, never the session URL
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,  # (what a kept environ says of itself, not the server's True)
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def test_keys_a_server_leaves_out_are_left_out():
    partial = {key: value for key, value in FULL.items() if key not in ("REMOTE_PORT", "SCRIPT_NAME")}
    info = ConnectionInfo("xhr-streaming", partial, None, all_headers=False)
    assert "REMOTE_PORT" not in info.environ and "SCRIPT_NAME" not in info.environ
    assert None not in info.environ.values()
    assert info.environ["PATH_INFO"] == "/echo/0/s1/websocket" and info.remote_addr == "10.0.0.7"


def test_a_before_open_hook_sees_every_header_until_the_session_settles():
    info = ConnectionInfo("websocket", FULL, "/echo", all_headers=True)
    assert info.environ["HTTP_AUTHORIZATION"] == "Bearer secret"
    info.settle()
    assert "HTTP_AUTHORIZATION" not in info.environ and info.environ["HTTP_COOKIE"] == "a=b"
    assert "wsgi.input" not in info.environ and "wsgi.errors" not in info.environ
