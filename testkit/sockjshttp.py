"""SockJS sessions over plain HTTP requests: session URLs, polling, sending.

One request per call (through ``rawhttp.request``): open a session with an
xhr poll, read the single frame of an xhr or jsonp poll, xhr_send messages,
collect messages by polling. Also the header values the protocol fixes
exactly. Streaming receivers are in sockjsstream.py.
"""

from __future__ import annotations

import json
import re
import uuid

from testkit.rawhttp import TIMEOUT, Response, request
from testkit.serverproc import RunningServer

#: Cache-Control of every answer that must not be cached.
NO_CACHE = "no-store, no-cache, no-transform, must-revalidate, max-age=0"
#: Cache-Control of the answers cached for a year (iframe page, OPTIONS).
YEAR = "public, max-age=31536000"


def new_sid() -> str:
    """A random session id, so tests never share a session."""
    return uuid.uuid4().hex


def session_path(prefix: str, sid: str, transport: str, server_id: str = "000") -> str:
    """The URL path of a session request: ``PREFIX/SERVER_ID/SID/TRANSPORT``."""
    return f"{prefix}/{server_id}/{sid}/{transport}"


def poll(
    server: RunningServer,
    prefix: str,
    sid: str,
    transport: str = "xhr",
    headers: dict[str, str] | None = None,
    server_id: str = "000",
    timeout: float = TIMEOUT,
) -> tuple[Response, str]:
    """One polling request (xhr or jsonp); the answer and its single frame."""
    path = session_path(prefix, sid, transport, server_id)
    if transport == "xhr":
        r = request(server, "POST", path, b"", headers, timeout)
        assert r.status == 200, (r.status, r.body)
        assert r.body.endswith(b"\n") and r.body.count(b"\n") == 1, r.body
        return r, r.body[:-1].decode("utf-8")
    r = request(server, "GET", path + "?c=cb", None, headers, timeout)
    assert r.status == 200, (r.status, r.body)
    m = re.fullmatch(rb"/\*\*/cb\((.*)\);\r\n", r.body, re.S)
    assert m, r.body
    return r, json.loads(m.group(1))


def send(
    server: RunningServer,
    prefix: str,
    sid: str,
    messages: list[str],
    server_id: str = "000",
    content_type: str | None = "text/plain",
) -> Response:
    """xhr_send a list of messages; asserts the 204."""
    headers = {"Content-Type": content_type} if content_type else {}
    r = request(server, "POST", session_path(prefix, sid, "xhr_send", server_id), json.dumps(messages), headers)
    assert r.status == 204, (r.status, r.body)
    return r


def open_session(server: RunningServer, prefix: str = "/echo") -> str:
    """A new session opened with an xhr poll (which answered ``o``)."""
    sid = new_sid()
    _, frame = poll(server, prefix, sid)
    assert frame == "o"
    return sid


def messages_of(frame: str) -> list[str]:
    """The messages of an ``a[...]`` frame (any other frame fails)."""
    assert frame.startswith("a["), frame
    return json.loads(frame[1:])


def collect(server: RunningServer, prefix: str, sid: str, count: int, transport: str = "xhr") -> list[str]:
    """Poll until ``count`` messages arrived (heartbeats skipped)."""
    got: list[str] = []
    while len(got) < count:
        _, frame = poll(server, prefix, sid, transport)
        if frame != "h":
            got += messages_of(frame)
    return got


def alive(server: RunningServer) -> None:
    """The server still answers a normal request."""
    r = request(server, "GET", "/echo/info")
    assert r.status == 200 and json.loads(r.body)["origins"] == ["*:*"]
