"""``take_with_head``: both servers hand the socket over with the answer's head rendered but not sent.

The head must be what the server would have sent itself (``write(b"")``),
byte for byte but for the Date; the server counts it as sent (pywsgi's
access log line is the same); and the caller's first bytes go out with
it. A websocket whose service has a ``before_open`` hook (which may wait)
still gets its 101 before the hook is done.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator

import gevent
import pytest
from gevent import socket
from gevent.event import Event
from gevent.pool import Pool

from sockjs_gevent import SockJS
from sockjs_gevent.http.connection import HttpConnection
from sockjs_gevent.peerwatch import TAKE_SOCKET_KEY
from sockjs_gevent.pywsgi import make_server
from sockjs_gevent.websocket import EventLoopWebSocket, accept
from testkit.wsframe import accept_token, frame_at, new_key, upgrade_request
from tests.http.httpwire import Wire, settle

TIMEOUT = 5.0
DATE = re.compile(rb"\r\nDate: [^\r]*")


def upgrade_app(taken: list) -> Callable:
    """Upgrades to a made-up protocol; /held takes the socket with the 101 unsent and sends it with b"first"."""

    def app(environ, start_response):
        write = start_response("101 Switching Protocols", [("Upgrade", "made-up"), ("Connection", "Upgrade")])
        taker = environ[TAKE_SOCKET_KEY]
        if environ["PATH_INFO"] == "/held":
            sock, head = taker.take_with_head()
            assert head.startswith(b"HTTP/1.1 101 ")
            sock.send(head + b"first")
        else:
            write(b"")
            sock = taker()
            sock.send(b"first")
        taken.append(sock)  # (kept open until the test is done)
        return []

    return app


@pytest.fixture(params=["httptools", "pywsgi"])
def serve(request, start_server) -> Iterator[Callable]:
    """``serve(app)``: the in-process server of this kind, started; returns (port, its access log so far)."""
    servers = []

    def start(app: Callable) -> tuple[int, Callable[[], str]]:
        log = io.StringIO()
        if request.param == "httptools":
            server = start_server(app, access_log=log)
        else:
            server = make_server(app, port=0, log=log, spawn=Pool())
            server.start()
            servers.append(server)
        return server.server_port, log.getvalue

    yield start
    for server in servers:
        server.stop(timeout=1.0)


def read_until(sock, marker: bytes, data: bytes = b"") -> bytes:
    while marker not in data:
        more = sock.recv(65536)
        assert more, data
        data += more
    return data


def exchange(port: int, path: str) -> bytes:
    """Upgrade on ``path``: the first read of the answer, after the whole head and b"first" came."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: made-up\r\nConnection: Upgrade\r\n\r\n".encode())
        return read_until(sock, b"\r\n\r\nfirst")


def test_the_held_head_is_the_head_the_server_sends(serve):
    taken: list = []
    port, access_log = serve(upgrade_app(taken))
    sent = exchange(port, "/sent")
    held = exchange(port, "/held")
    assert DATE.search(held) and DATE.sub(b"", held) == DATE.sub(b"", sent)
    assert held.endswith(b"\r\n\r\nfirst")
    for sock in taken:
        sock.close()


def test_pywsgi_logs_the_held_101_as_the_sent_one():
    """(The httptools server writes no access-log line for an upgraded connection, either way.)"""
    taken: list = []
    log = io.StringIO()
    server = make_server(upgrade_app(taken), port=0, log=log, spawn=Pool())
    server.start()
    try:
        sent = exchange(server.server_port, "/sent")
        held = exchange(server.server_port, "/held")
        server.pool.join(timeout=TIMEOUT)
    finally:
        server.stop(timeout=1.0)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2, lines
    fields = [re.search(r'"GET (/\w+) HTTP/1.1" (\d+) (\S+)', line).groups() for line in lines]
    head_length = str(len(sent) - len(b"first"))
    assert fields == [("/sent", "101", head_length), ("/held", "101", str(len(held) - len(b"first")))]
    for sock in taken:
        sock.close()


def test_no_head_is_held_once_it_is_out_or_before_start_response(serve):
    heads = []

    def app(environ, start_response):
        taker = environ[TAKE_SOCKET_KEY]
        if environ["PATH_INFO"] == "/sent":
            start_response("101 Switching Protocols", [("Upgrade", "made-up"), ("Connection", "Upgrade")])(b"")
        sock, head = taker.take_with_head()
        heads.append(head)
        sock.close()
        return []

    port, _ = serve(app)
    for path in ("/sent", "/unstarted"):
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n".encode())
            while sock.recv(65536):
                pass
    assert heads == [b"", b""]


def test_a_websocket_whose_service_has_a_before_open_hook_gets_its_101_before_the_hook_is_done(serve):
    """The hook may wait (a database): the 101 does not wait with it; ``o`` does."""
    hook_runs, go_on = Event(), Event()

    def before_open(conn):
        hook_runs.set()
        go_on.wait(TIMEOUT)

    def echo(conn):
        for message in conn:
            conn.send(message)

    port, _ = serve(SockJS(echo, prefix="/echo", before_open=before_open))
    key = new_key()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(upgrade_request("/echo/000/abc/websocket", key=key))
        data = read_until(sock, b"\r\n\r\n")
        assert hook_runs.is_set() and not go_on.is_set()
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ") and accept_token(key).encode() in head
        assert rest == b""
        go_on.set()
        data = rest
        while frame_at(data) is None:
            data += sock.recv(65536)
        assert frame_at(data)[1] == b"o"


def test_accept_sends_the_101_itself_unless_asked_to_hold_it(serve):
    """An app of its own on ``accept()`` (bench/servers/wsengine_echo.py) writes nothing at first: its 101 is out."""
    started = []

    class Quiet:
        def on_message(self, text: str) -> None:
            pass

        def on_end(self) -> None:
            started[0].release()  # (closes the socket)

    def app(environ, start_response):
        handshake = accept(environ, start_response, 1 << 20)
        ws = handshake.websocket
        assert isinstance(ws, EventLoopWebSocket)
        ws.start(Quiet(), handshake.pending)
        started.append(ws)
        return handshake.answer

    port, _ = serve(app)
    key = new_key()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(upgrade_request("/ws", key=key))
        head, _, rest = read_until(sock, b"\r\n\r\n").partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ") and accept_token(key).encode() in head and rest == b""
    assert len(started) == 1
    gevent.sleep(0.05)  # (the server sees the end, and closes its socket)


def test_a_kept_environ_lets_its_connection_go_once_it_ends(start_server):
    """The taker in an environ a session keeps holds its connection only until the connection ends.

    (It used to hold it weakly; a compiled build's connection takes no weak reference.)
    """
    kept: list[dict] = []

    def app(environ, start_response):
        kept.append(environ)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = start_server(app)
    wire = Wire(server)
    wire.get("/")
    assert wire.response()[1] == b"ok"
    taker = kept[0][TAKE_SOCKET_KEY]
    assert type(taker._owner) is HttpConnection  # (while the connection lasts)
    wire.close()
    settle(server)
    assert taker._owner is None
    with pytest.raises(RuntimeError, match="the request is over: its socket is gone"):
        taker()
