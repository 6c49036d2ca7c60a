"""A deliberately unhelpful HTTP reverse proxy, for the fallback tests.

It behaves like the old corporate proxies SockJS exists for:

- it speaks HTTP/1.0 to the server and drops hop-by-hop headers
  (``Connection``, ``Upgrade``, ``Keep-Alive``, ...), so a WebSocket handshake
  reaches the server as a plain GET and is refused there (400);
- with ``buffer=True`` it reads a whole response before forwarding any of it,
  so streaming responses never arrive until they end;
- it answers one request per client connection (``Connection: close``).

It also serves the e2e test page under ``/e2e/`` itself, so a page can be
same-origin with the services behind it. Plain threads and sockets; 127.0.0.1.
"""

from __future__ import annotations

import select
import socket
import threading

from tests.e2e.e2e_support import static_file

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
    "transfer-encoding",
    "proxy-authenticate",
    "proxy-authorization",
}
MAX_HEAD = 64 * 1024


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """(head without the blank line, bytes read after it); (b"", b"") on EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b"", b""
        data += chunk
        if len(data) > MAX_HEAD:
            raise ValueError("head too large")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _parse_headers(lines: list[bytes]) -> list[tuple[str, str]]:
    headers = []
    for line in lines:
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return headers


def _end_to_end(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop hop-by-hop headers, including those named in Connection."""
    named = set()
    for name, value in headers:
        if name.lower() == "connection":
            named.update(token.strip().lower() for token in value.split(","))
    return [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP and n.lower() not in named]


def _head_bytes(first_line: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [first_line] + [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class ClientGone(Exception):
    """The browser hung up (it aborted the request, or the page went away)."""


def _to_client(client: socket.socket, data: bytes) -> None:
    try:
        client.sendall(data)
    except OSError as exc:
        raise ClientGone() from exc


class TestProxy:
    """``TestProxy(upstream_port, buffer=...)``; ``start()``, ``url(path)``, ``stop()``."""

    __test__ = False  # not a pytest test class

    def __init__(self, upstream_port: int, *, buffer: bool, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.buffer = buffer
        self.listener: socket.socket | None = None
        self.port = 0
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.stopping = False
        self.requests: list[str] = []  # "METHOD /path" of every forwarded request
        self.refused_upgrades = 0  # WebSocket handshakes forwarded without their upgrade
        self.errors: list[str] = []

    # -- lifecycle

    def start(self) -> TestProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.listener = listener
        self.port = listener.getsockname()[1]
        threading.Thread(target=self._accept_loop, name=f"e2e-proxy-{self.port}", daemon=True).start()
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self) -> None:
        self.stopping = True
        if self.listener is not None:
            self.listener.close()
        with self.lock:
            open_sockets = list(self.sockets)
        for sock in open_sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _track(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(sock)
        sock.close()

    def _accept_loop(self) -> None:
        assert self.listener is not None
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    # -- one request per connection

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        request = "(no request yet)"
        try:
            try:
                head, rest = _read_head(client)
            except OSError as exc:
                raise ClientGone() from exc
            if not head:
                return
            request = head.split(b"\r\n", 1)[0].decode("latin-1")
            lines = head.split(b"\r\n")
            method, target, _version = lines[0].decode("latin-1").split(" ", 2)
            headers = _parse_headers(lines[1:])
            length = int(next((v for n, v in headers if n.lower() == "content-length"), "0") or 0)
            if any(n.lower() == "transfer-encoding" for n, _ in headers):
                _to_client(client, b"HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            body = rest
            while len(body) < length:
                try:
                    chunk = client.recv(65536)
                except OSError as exc:
                    raise ClientGone() from exc
                if not chunk:
                    return
                body += chunk

            if target.startswith("/e2e/"):
                self._serve_static(client, target)
                return

            if any(n.lower() == "upgrade" for n, _ in headers):
                with self.lock:
                    self.refused_upgrades += 1
            with self.lock:
                self.requests.append(f"{method} {target}")

            forwarded = [(n, v) for n, v in _end_to_end(headers) if n.lower() != "content-length"]
            if body or method in ("POST", "PUT"):
                forwarded.append(("Content-Length", str(len(body))))
            forwarded.append(("Connection", "close"))
            upstream = socket.create_connection(self.upstream, timeout=60)
            self._track(upstream)
            upstream.sendall(_head_bytes(f"{method} {target} HTTP/1.0", forwarded) + body)
            if self.buffer:
                self._relay_buffered(client, upstream)
            else:
                self._relay_streaming(client, upstream)
        except ClientGone:
            pass
        except Exception as exc:  # the server misbehaving, or a bug here: either way, record it
            if not self.stopping:
                self.errors.append(f"{request}: {exc!r}")
        finally:
            if upstream is not None:
                self._untrack(upstream)
            self._untrack(client)

    def _serve_static(self, client: socket.socket, target: str) -> None:
        found = static_file(target)
        if found is None:
            _to_client(client, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        body, content_type = found
        head = _head_bytes(
            "HTTP/1.1 200 OK",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-cache"),
                ("Connection", "close"),
            ],
        )
        _to_client(client, head + body)

    def _upstream_chunks(self, client: socket.socket, upstream: socket.socket):
        """Bytes from upstream as they come; ClientGone if the client hangs up first."""
        while True:
            readable, _, _ = select.select([upstream, client], [], [], 60)
            if not readable:
                raise ClientGone()  # nothing for a minute: give up
            if client in readable:
                try:
                    pipelined = client.recv(65536)
                except OSError as exc:
                    raise ClientGone() from exc
                if not pipelined:
                    raise ClientGone()
                # bytes of a pipelined request: ignored, one request per connection
            if upstream in readable:
                chunk = upstream.recv(65536)
                if not chunk:
                    return
                yield chunk

    def _response_head(self, head: bytes, body_length: int | None) -> bytes:
        lines = head.split(b"\r\n")
        status = lines[0].decode("latin-1")
        headers = [(n, v) for n, v in _end_to_end(_parse_headers(lines[1:])) if n.lower() != "content-length"]
        if body_length is not None:
            headers.append(("Content-Length", str(body_length)))
        headers.append(("Connection", "close"))
        return _head_bytes(status, headers)

    def _relay_buffered(self, client: socket.socket, upstream: socket.socket) -> None:
        data = b"".join(self._upstream_chunks(client, upstream))
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            raise OSError("upstream sent no complete response head")
        _to_client(client, self._response_head(head, len(body)) + body)

    def _relay_streaming(self, client: socket.socket, upstream: socket.socket) -> None:
        data = b""
        chunks = self._upstream_chunks(client, upstream)
        for chunk in chunks:
            data += chunk
            if b"\r\n\r\n" in data:
                break
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            raise OSError("upstream sent no complete response head")
        length = None
        for name, value in _parse_headers(head.split(b"\r\n")[1:]):
            if name.lower() == "content-length":
                length = int(value)
        _to_client(client, self._response_head(head, length) + body)
        for chunk in chunks:
            _to_client(client, chunk)
