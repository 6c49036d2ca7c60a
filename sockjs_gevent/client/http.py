"""A small keep-alive HTTP/1.1 client on gevent sockets, framed by h11."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import h11
from gevent import socket
from gevent import ssl as gevent_ssl


def wrap_tls(sock: Any, context: Any, host: str) -> Any:
    """``sock`` as a gevent TLS client socket (any ``ssl.SSLContext`` will do), handshake done."""
    return gevent_ssl.SSLSocket(sock=sock, server_hostname=host, _context=context)


class HttpError(ConnectionError):
    """The server closed or broke the connection mid-request."""


class ResponseHead:
    """Status and headers of a response (its head), whose body is read separately."""

    __slots__ = ("status", "headers")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        self.headers = headers

    def header(self, name: str) -> str | None:
        key = name.lower().encode("latin-1")
        for k, v in self.headers:
            if k == key:
                return v.decode("latin-1")
        return None


class HttpClient:
    """One connection to ``host:port``; reopened by itself after the server closes it.

    ``timeout`` bounds connecting; ``read_timeout`` (the same unless changed)
    bounds every later socket operation, e.g. waiting for a long poll's answer.
    """

    def __init__(self, host: str, port: int, timeout: float | None = 10.0, ssl_context: Any = None) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        #: A client-side ``ssl.SSLContext`` for https, or None.
        self.ssl_context = ssl_context
        #: Seconds a read or write may stall once connected; None waits forever.
        self.read_timeout: float | None = timeout
        self._sock: socket.socket | None = None
        self._h11: h11.Connection | None = None

    def _connect(self) -> tuple[h11.Connection, socket.socket]:
        self.close()
        try:
            sock = self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise HttpError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            try:
                sock = self._sock = wrap_tls(sock, self.ssl_context, self.host)
            except OSError as exc:
                self.close()
                raise HttpError(f"TLS handshake with {self.host}:{self.port} failed: {exc}") from exc
        sock.settimeout(self.read_timeout)
        conn = self._h11 = h11.Connection(h11.CLIENT)
        return conn, sock

    def request(
        self, method: str, target: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> ResponseHead:
        """Send a request and read the response head (the body is left to read)."""
        conn, sock = self._h11, self._sock  # (both set, or both None)
        if conn is None or sock is None or conn.our_state is not h11.IDLE:
            if conn is not None and sock is not None and conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                conn.start_next_cycle()
            else:
                conn, sock = self._connect()
        all_headers = [("Host", f"{self.host}:{self.port}"), ("Content-Length", str(len(body))), *headers]
        data = conn.send(h11.Request(method=method, target=target, headers=all_headers))
        data += conn.send(h11.Data(data=body)) if body else b""
        data += conn.send(h11.EndOfMessage())
        try:
            sock.sendall(data)
        except OSError as exc:
            self.close()
            raise HttpError(f"could not send {method} {target}: {exc}") from exc
        while True:
            event = self._next_event()
            if isinstance(event, h11.Response):
                return ResponseHead(event.status_code, list(event.headers))
            if isinstance(event, h11.InformationalResponse):
                continue
            raise HttpError(f"unexpected {event!r} while waiting for a response")

    def iter_body(self) -> Iterator[bytes]:
        """Yield body chunks as they arrive, until the response ends."""
        while True:
            event = self._next_event()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                conn = self._h11  # (_next_event had it, and nothing closed it since)
                if conn is not None and (conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE):
                    self.close()
                return
            else:
                raise HttpError(f"unexpected {event!r} in a response body")

    def read_body(self) -> bytes:
        return b"".join(self.iter_body())

    def _next_event(self) -> object:
        assert self._h11 is not None and self._sock is not None
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                self.close()
                raise HttpError(f"bad HTTP from the server: {exc}") from exc
            if event is h11.NEED_DATA:
                try:
                    data = self._sock.recv(65536)
                except OSError as exc:
                    self.close()
                    raise HttpError(f"connection lost: {exc}") from exc
                self._h11.receive_data(data)
                continue
            if isinstance(event, h11.ConnectionClosed):
                self.close()
                raise HttpError("the server closed the connection")
            return event

    def close(self) -> None:
        if self._sock is not None:
            try:
                # shutdown() tells the server at once; gevent defers close()
                # of a socket another greenlet is reading until the hub runs.
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._h11 = None
