"""examples/nginx.conf in a real nginx, in front of the test services (tests/deploy/nginxproc.py).

Raw HTTP and WebSocket from Python, through nginx: every transport
carries messages both ways, and the streaming ones carry each frame as
soon as the server writes it (within ``PROMPT``). The server's
``X-Accel-Buffering: no`` turns nginx's response buffering off for
streaming answers; ``test_header_streams_where_nginx_would_buffer`` shows
nginx holding a stream back without it.

The backend is a parameter (``nginxproc.BACKENDS``): every backend this
machine can run, each behind its own nginx for the module.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from testkit.rawhttp import Raw, request
from testkit.rawws import ws_connect_raw, ws_recv, ws_send
from testkit.sockjshttp import new_sid, poll, send, session_path
from testkit.sockjsstream import STREAMING, Receiver
from tests.deploy.nginxproc import (
    EXAMPLE_CONF,
    RunningNginx,
    available_backends,
    mark,
    nginx_binary,
    nginx_in_front,
    problems,
    start_nginx,
    wait_answers,
)

STREAMS = ["xhr_streaming", "eventsource", "htmlfile"]
#: Seconds from sending a request to reading its first frame, or from sending a message to reading it
#: on a stream. A correctness bound (a buffering nginx holds frames until a buffer fills or the answer
#: ends: for ever, for a stream of a few frames), not a speed: 0.1 s was exceeded once (145 ms) on a
#: loaded two-core machine, where a new nginx, its new upstream connection and the server share the cores.
PROMPT = 0.5


@pytest.fixture(scope="module", params=available_backends())
def nginx(request: pytest.FixtureRequest) -> Iterator[RunningNginx]:
    with nginx_in_front(request.param) as running:
        wait_answers(running)
        yield running


@pytest.fixture(autouse=True)
def _quiet_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    """A warning or error logged by nginx or a backend during a test fails it."""
    if "nginx" not in request.fixturenames:
        yield
        return
    running: RunningNginx = request.getfixturevalue("nginx")
    since = mark(running)
    yield
    found = problems(running, since)
    assert not found, "problems logged during the test:\n" + "\n".join(found)


def test_example_as_shipped_passes_nginx_t() -> None:
    """The file itself, unrendered (listen 80, upstream 127.0.0.1:8000), is a valid nginx config."""
    with tempfile.TemporaryDirectory() as prefix:
        os.mkdir(os.path.join(prefix, "logs"))
        done = subprocess.run(
            [
                nginx_binary(),
                "-t",
                "-e",
                "stderr",
                "-p",
                prefix + os.sep,
                "-c",
                EXAMPLE_CONF,
                "-g",
                f"pid {os.path.join(prefix, 'nginx.pid')};",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_info_passes_through(nginx: RunningNginx) -> None:
    r = request(nginx, "GET", "/echo/info")
    assert r.status == 200 and json.loads(r.body)["websocket"] is True
    assert (r.header("Server") or "").startswith("nginx")


def test_websocket_echo(nginx: RunningNginx) -> None:
    raw, _ = ws_connect_raw(nginx, session_path("/echo", new_sid(), "websocket"))
    with raw:
        assert ws_recv(raw) == (1, b"o")
        sent = ["hello", "w\u00f6rld \u2028", ""]
        ws_send(raw, json.dumps(sent))
        got: list[str] = []
        while len(got) < len(sent):
            opcode, payload = ws_recv(raw)
            assert opcode == 1 and payload.startswith(b"a["), payload
            got += json.loads(payload[1:])
        assert got == sent


def test_raw_websocket_echo(nginx: RunningNginx) -> None:
    raw, _ = ws_connect_raw(nginx, "/echo/websocket")
    with raw:
        ws_send(raw, "plain text")
        assert ws_recv(raw) == (1, b"plain text")


def test_handler_sees_forwarded_headers(nginx: RunningNginx) -> None:
    """X-Forwarded-For/-Proto and the Host with its port reach the application."""
    raw, _ = ws_connect_raw(nginx, session_path("/whoami", new_sid(), "websocket"))
    with raw:
        assert ws_recv(raw) == (1, b"o")
        opcode, payload = ws_recv(raw)
    assert opcode == 1 and payload.startswith(b"a["), payload
    info = json.loads(json.loads(payload[1:])[0])
    assert info["transport"] == "websocket"
    assert info["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert info["headers"]["x-forwarded-proto"] == "http"
    assert info["remote_addr"] == "127.0.0.1"  # nginx itself


@pytest.mark.parametrize("transport", STREAMS)
def test_streaming_first_frame_is_prompt(nginx: RunningNginx, transport: str) -> None:
    started = time.monotonic()
    with Receiver(nginx, "/echo", new_sid(), transport) as rx:
        assert rx.frame() == "o"
        elapsed = time.monotonic() - started
        assert rx.head.status == 200
        assert not rx.head.has("X-Accel-Buffering")  # nginx takes it for itself
    assert elapsed < PROMPT, f"the o frame took {elapsed * 1000:.0f} ms through nginx"


@pytest.mark.parametrize("transport", STREAMS)
def test_message_on_open_stream_is_prompt(nginx: RunningNginx, transport: str) -> None:
    """Messages sent while a stream is open come down it as they are echoed, not when a buffer fills."""
    sid = new_sid()
    with Receiver(nginx, "/echo", sid, transport) as rx:
        assert rx.frame() == "o"
        for text in ("first", "second", "third"):
            started = time.monotonic()
            send(nginx, "/echo", sid, [text])
            assert rx.messages(1) == [text]
            elapsed = time.monotonic() - started
            assert elapsed < PROMPT, f"{text!r} took {elapsed * 1000:.0f} ms from xhr_send to the stream"


@pytest.mark.parametrize("transport", ["xhr", "jsonp"])
def test_polling_and_xhr_send_echo(nginx: RunningNginx, transport: str) -> None:
    sid = new_sid()
    _, frame = poll(nginx, "/echo", sid, transport)
    assert frame == "o"
    send(nginx, "/echo", sid, ["a", "b"])
    got: list[str] = []
    while len(got) < 2:
        _, frame = poll(nginx, "/echo", sid, transport)
        assert frame.startswith("a["), frame
        got += json.loads(frame[1:])
    assert got == ["a", "b"]


def test_waiting_poll_is_answered_when_a_message_arrives(nginx: RunningNginx) -> None:
    """A poll held open by the server (no frame yet) gets the message as soon as it is sent."""
    sid = new_sid()
    assert poll(nginx, "/echo", sid)[1] == "o"
    with Raw(nginx) as raw:
        raw.send_request("POST", session_path("/echo", sid, "xhr"))
        assert raw.quiet_for(0.05)  # held: nothing to answer yet
        send(nginx, "/echo", sid, ["late"])
        head = raw.read_head()
        assert head.status == 200
        assert raw.read_body() == b'a["late"]\n'


def _http10_upstream(text: str) -> str:
    """nginx's own default towards upstreams: HTTP/1.0, whose streaming answers end with the close, unchunked."""
    return text.replace("proxy_http_version 1.1;", "proxy_http_version 1.0;", 1)


def _ignoring_the_header(text: str) -> str:
    return _http10_upstream(text).replace(
        "proxy_pass http://sockjs;", "proxy_pass http://sockjs;\n            proxy_ignore_headers X-Accel-Buffering;", 1
    )


def test_header_streams_where_nginx_would_buffer() -> None:
    """What X-Accel-Buffering is for, shown on an HTTP/1.0 upstream.

    Through the example config (HTTP/1.1, each frame its own chunk) nginx
    passes every complete chunk on even while buffering. Reading an
    unchunked answer (HTTP/1.0, nginx's default proxy_http_version) it
    holds everything, head included, until a buffer fills: then only the
    header keeps the stream flowing.
    """
    with nginx_in_front("testserver") as example:
        upstream = [(example.backends[0].host, example.backends[0].port)]
        honoured = start_nginx(upstream, edit=_http10_upstream)
        ignored = start_nginx(upstream, edit=_ignoring_the_header)
        held = [Raw(ignored) for _ in STREAMS]
        try:
            for raw, transport in zip(held, STREAMS, strict=True):
                method, suffix, _ = STREAMING[transport]
                raw.send_request(method, session_path("/echo", new_sid(), transport) + suffix)
            for transport in STREAMS:
                started = time.monotonic()
                with Receiver(honoured, "/echo", new_sid(), transport) as rx:
                    assert rx.frame() == "o"
                    elapsed = time.monotonic() - started
                assert elapsed < PROMPT, f"{transport}: o took {elapsed * 1000:.0f} ms over HTTP/1.0 with the header"
            # Twice PROMPT after the requests (the header's answers took a
            # few ms), not one byte, head included, has come.
            readable, _, _ = select.select([raw.sock for raw in held], [], [], 2 * PROMPT)
            arrived = {t: raw.sock.recv(80) for raw, t in zip(held, STREAMS, strict=True) if raw.sock in readable}
            assert not arrived, f"nginx passed these on while buffering: {arrived}"
        finally:
            for raw in held:
                raw.close()
            honoured.stop()
            ignored.stop()


def test_several_machines_keep_each_session_on_one() -> None:
    """The commented several-machines block: hashing the server_id keeps polling sessions whole.

    Each backend is a separate process with its own sessions, so an
    xhr_send that reached the wrong one would be answered 404.
    """
    with nginx_in_front("testserver", count=2) as nginx:
        wait_answers(nginx)
        for i in range(24):
            server_id = f"{i:03d}"
            sid = new_sid()
            _, frame = poll(nginx, "/echo", sid, server_id=server_id)
            assert frame == "o"
            send(nginx, "/echo", sid, [server_id], server_id=server_id)
            _, frame = poll(nginx, "/echo", sid, server_id=server_id)
            assert frame == f'a["{server_id}"]'
        opened = []
        for backend in nginx.backends:
            stats = json.loads(request(backend, "GET", "/stats").body)["/echo"]
            opened.append(stats["sessions_opened"].get("xhr-polling", 0))
        assert sum(opened) == 24 and all(opened), f"sessions per backend: {opened}"
        assert not problems(nginx)
