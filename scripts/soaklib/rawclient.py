"""The soak's connections: sockets from many source addresses, testkit's HTTP/1.1 client on them.

No client library: one socket per connection, connected from a rotating
source address (127.0.0.2, 127.0.0.3, ...) so that many connections to one
server port do not run out of ephemeral ports; ``Http`` is testkit's
``HttpConnection`` on such a socket, ``post`` a request to send again.
"""

from __future__ import annotations

import random
import socket as _socket
import string
import time

from gevent import socket

from testkit.rawhttp import HttpConnection, build_request

HOST = "127.0.0.1"
IP_BIND_ADDRESS_NO_PORT = getattr(_socket, "IP_BIND_ADDRESS_NO_PORT", 24)
IO_TIMEOUT = 10.0  # per socket operation of request/response exchanges

now = time.monotonic


class Net:
    port = 0
    sources: list[str] = ["127.0.0.1"]
    turn = 0


def connect(timeout: float | None) -> socket.socket:
    sock = socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        Net.turn += 1
        source = Net.sources[Net.turn % len(Net.sources)]
        if source != HOST:
            sock.setsockopt(_socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.connect((HOST, Net.port))
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


class Http(HttpConnection):
    """One keep-alive HTTP/1.1 connection (testkit's client) from the next source address; ``used``: when made."""

    __slots__ = ("used",)

    def __init__(self, timeout: float | None) -> None:
        super().__init__(connect(timeout), HOST)
        self.used = now()


#: What a browser's xhr says its body is.
BODY_TYPE = [("Content-Type", "text/plain;charset=UTF-8")]


def post(path: str, body: bytes = b"") -> bytes:
    """A keep-alive POST, as bytes to send again and again."""
    return build_request("POST", path, HOST, BODY_TYPE, body)


def random_id(n: int = 16) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=n))
