"""What a handler sees when the client closes its websocket (issue 24).

``conn.close_code`` and ``conn.close_reason`` are the code and the reason
of the client's Close frame. A Close frame with a code and no reason gives
the code's standard name, worded as the library words its own reasons
(1000 "Normal closure"); one with no code at all is 1005 "No status
received"; application codes without a reason have none (""). The same on
the raw ``/websocket`` endpoint and on SockJS's ``/<server>/<session>/websocket``,
and on both HTTP servers (in process: the handler reports to the test).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from gevent import socket
from gevent.queue import Queue

from sockjs_gevent import SockJS
from sockjs_gevent.client import connect
from sockjs_gevent.server import SERVERS, build_server
from testkit.rawhttp import HttpConnection
from testkit.wsframe import CLOSE, encode, new_key, upgrade_request

TIMEOUT = 5.0
PATHS = {"raw": "/x/websocket", "sockjs": "/x/000/abcdef/websocket"}


@pytest.fixture(params=SERVERS)
def served(request) -> Iterator[tuple[int, Queue]]:
    """(port, what the handlers saw): a service at /x whose handler reports (close_code, close_reason) once closed."""
    seen: Queue = Queue()

    def handler(conn):
        for _ in conn:
            pass
        seen.put((conn.close_code, conn.close_reason))

    server = build_server(SockJS(handler, prefix="/x"), port=0, server=request.param)
    server.start()
    yield server.server_port, seen
    server.stop(timeout=1.0)


def close_by_hand(port: int, path: str, payload: bytes) -> None:
    """Open a websocket at ``path``, send one Close frame, read until the server's Close frame, hang up."""
    with HttpConnection(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)) as conn:
        conn.send(upgrade_request(path, key=new_key()))
        head = conn.read_head()
        assert head.status == 101, head
        conn.send(encode(payload, CLOSE))  # a masked client Close frame
        while b"\x88" not in conn.buf:  # the server's Close frame (after the "o" frame on the SockJS path)
            if not conn.recv_some():
                break


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
@pytest.mark.parametrize(
    "payload, expected",
    [
        (struct.pack("!H", 1000) + b"bye", (1000, "bye")),
        (struct.pack("!H", 4001) + b"custom", (4001, "custom")),
        (struct.pack("!H", 1000), (1000, "Normal closure")),  # as the library's own 1000
        (struct.pack("!H", 1001), (1001, "Going away")),
        (struct.pack("!H", 4001), (4001, "")),  # an application code has no standard name
        (b"", (1005, "No status received")),  # no code at all (RFC 6455 section 7.1.5)
    ],
    ids=["1000-bye", "4001-custom", "1000", "1001", "4001", "no-code"],
)
def test_the_handler_sees_the_code_and_reason_the_client_closed_with(served, path, payload, expected):
    port, seen = served
    close_by_hand(port, path, payload)
    code, reason = seen.get(timeout=TIMEOUT)
    assert (code, reason) == expected
    assert type(code) is int  # not an enum member of the websocket library


@pytest.mark.parametrize(
    "close, expected",
    [
        ((4001, "custom"), (4001, "custom")),
        ((), (1000, "Normal closure")),
    ],
)
def test_the_python_clients_raw_websocket_close_reaches_the_handler(served, close, expected):
    port, seen = served
    conn = connect(f"http://127.0.0.1:{port}/x", transport="raw-websocket", timeout=TIMEOUT)
    conn.close(*close)
    assert seen.get(timeout=TIMEOUT) == expected


def test_a_sockjs_websocket_close_is_a_normal_closure(served):
    """SockJS carries no close code from the client: its client closes the websocket with 1000 and no reason."""
    port, seen = served
    conn = connect(f"http://127.0.0.1:{port}/x", transport="websocket", timeout=TIMEOUT)
    conn.close(4001, "custom")
    assert seen.get(timeout=TIMEOUT) == (1000, "Normal closure")


def test_under_gevent_websockets_handler_a_client_close_is_a_normal_closure():
    """gevent-websocket keeps no close code nor reason: every clean close from the client is 1000 "Normal closure"."""
    from geventwebsocket.handler import WebSocketHandler

    seen: Queue = Queue()

    def handler(conn):
        for _ in conn:
            pass
        seen.put((conn.close_code, conn.close_reason))

    server = build_server(SockJS(handler, prefix="/x"), port=0, server="pywsgi", handler_class=WebSocketHandler)
    server.start()
    try:
        for path in PATHS.values():
            close_by_hand(server.server_port, path, struct.pack("!H", 4001) + b"custom")
            assert seen.get(timeout=TIMEOUT) == (1000, "Normal closure")
    finally:
        server.stop(timeout=1.0)
