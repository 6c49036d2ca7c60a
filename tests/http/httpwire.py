"""testkit's raw HTTP/1.1 client on gevent sockets, and helpers for in-process HttpServer tests.

The server and the tests share one gevent hub: the client's socket calls
yield to it, so the server runs while a test waits for bytes. The server
counts the connections it serves (its reusing spawner, or a Pool given as
``spawn``), so a test can wait for it to be done with them (``settle``)
instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from gevent import socket

from sockjs_gevent.http import HttpConfig, HttpServer
from testkit.rawhttp import TIMEOUT, Raw, Response

#: Short timers, so tests that wait for one are fast.
FAST = HttpConfig(header_timeout=2.0, keepalive_timeout=2.0, body_timeout=2.0, write_timeout=2.0, linger_timeout=0.2)


class Where(NamedTuple):
    host: str
    port: int


def settle(server: HttpServer, timeout: float = TIMEOUT) -> None:
    """Wait until the server has finished with every connection."""
    tracker = server.pool if server.pool is not None else server.reuse
    assert tracker is not None, "a server without a pool or its reusing spawner: nothing to wait on"
    assert tracker.join(timeout=timeout), "connections still open"


class Wire(Raw):
    """A testkit ``Raw`` connection to an in-process server, on a gevent socket (so the server runs while it waits).

    ``get`` writes a GET by hand (``headers`` as header lines), ``response``
    reads the next answer as (head, body).
    """

    def __init__(self, server: HttpServer | int, timeout: float = TIMEOUT) -> None:
        port = server if isinstance(server, int) else server.server_port
        super().__init__(Where("127.0.0.1", port), timeout, connect=socket.create_connection)

    def get(self, path: str = "/", headers: str = "", version: str = "HTTP/1.1") -> None:
        self.method = "GET"
        self.send(f"GET {path} {version}\r\nHost: t\r\n{headers}\r\n".encode("latin-1"))

    def response(self, method: str | None = None) -> tuple[Response, bytes]:
        head = self.read_response(method)
        return head, head.body


def hello(environ: dict, start_response: Callable) -> list[bytes]:
    """A plain app: 200 "hello" with a Content-Length."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def assert_serves(server: HttpServer) -> None:
    """A normal request on a new connection still gets an answer."""
    wire = Wire(server)
    wire.get("/", "Connection: close\r\n")
    head, _ = wire.response()
    assert head.status < 500
    wire.close()
