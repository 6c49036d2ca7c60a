"""A gevent SockJS client, in the same blocking style as the server.

    from sockjs_gevent.client import connect

    conn = connect("http://127.0.0.1:8081/echo", transport="xhr-streaming")
    conn.send("hello")
    print(conn.recv(timeout=5))      # "hello"
    conn.close()

Transports: ``websocket``, ``xhr-streaming``, ``eventsource``,
``xhr-polling``, and ``raw-websocket`` (the ``/websocket`` endpoint with no
SockJS framing). Use it from greenlets; no monkey-patching is needed.

For a multiplexed service (``sockjs_gevent.multiplex.Multiplexer``),
``connect_multiplex(url)`` gives a ``MultiplexConnection``: many named
streams over one session (see ``sockjs_gevent.client.multiplex``).
"""

from __future__ import annotations

import json
import random
import ssl
import string
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..compression import Compression
from .connection import ClientConnection
from .cookies import CookieJar
from .http import HttpClient, HttpError
from .multiplex import MultiplexConnection, MultiplexStream, StreamOverflowError, connect_multiplex
from .transports import TRANSPORTS, Transport, WebSocketTransport

#: The /websocket endpoint with no SockJS framing (the server's conn.transport says the same).
RAW_WEBSOCKET = "raw-websocket"

__all__ = [
    "connect",
    "info",
    "ClientConnection",
    "ConnectError",
    "TRANSPORTS",
    "connect_multiplex",
    "MultiplexConnection",
    "MultiplexStream",
    "StreamOverflowError",
]


class ConnectError(ConnectionError):
    """The session did not open: refused, closed before open, or unreachable.

    ``code`` and ``reason`` are the close the server sent, when it sent one.
    """

    def __init__(self, message: str, code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


def _split(url: str) -> tuple[str, int, str, bool, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "ws", "https", "wss") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL of a SockJS service, got {url!r}")
    tls = parts.scheme in ("https", "wss")
    return parts.hostname, parts.port or (443 if tls else 80), parts.path.rstrip("/"), tls, parts.query


def _tls_context(tls: bool, ssl_context: Any) -> Any:
    if tls and ssl_context is None:
        return ssl.create_default_context()
    return ssl_context if tls else None


def info(url: str, timeout: float = 10.0, ssl_context: Any = None) -> dict[str, Any]:
    """GET the service's /info (websocket support, cookie_needed, ...)."""
    host, port, prefix, tls, query = _split(url)
    http = HttpClient(host, port, timeout, _tls_context(tls, ssl_context))
    try:
        response = http.request("GET", prefix + "/info" + (f"?{query}" if query else ""))
        body = http.read_body()
    except (OSError, HttpError) as exc:
        raise ConnectError(f"cannot reach {url}: {exc}") from exc
    finally:
        http.close()
    if response.status != 200:
        raise ConnectError(f"{url}/info answered {response.status}")
    return json.loads(body)


def connect(
    url: str,
    transport: str = "auto",
    timeout: float = 10.0,
    headers: Sequence[tuple[str, str]] = (),
    session_id: str | None = None,
    server_id: str | None = None,
    idle_timeout: float | None = None,
    ssl_context: Any = None,
    cookies: Mapping[str, str] | None = None,
    compression: bool | Compression | None = False,
) -> ClientConnection:
    """Open a session on the SockJS service at ``url`` and wait until it is open.

    ``transport="auto"`` asks /info and picks websocket when the server
    allows it, else xhr-streaming. Raises ConnectError if the session does
    not open within ``timeout`` (its ``code``/``reason`` tell a refusal).
    Once open, a session that hears nothing from the server for
    ``idle_timeout`` seconds closes with 1006; None (the default) waits
    forever, relying on the server's heartbeats and TCP to notice a loss.
    An ``https://`` URL uses TLS (``wss`` for websockets), verified with
    ``ssl_context`` (default: the system's trust store). The URL's query
    string (``?token=...``) goes with every request of the session.
    ``cookies`` start the session's cookie jar (``conn.cookies``), which
    every answer's ``Set-Cookie`` updates: a sticky balancer's JSESSIONID
    comes back on the next request. Use the connection as a context
    manager to close it on the way out. ``compression=True`` (or a
    ``sockjs_gevent.Compression`` of the settings to ask for) offers
    permessage-deflate on the websocket transports; the server may decline
    (``conn.transport.compressed`` tells). HTTP transports ignore it.
    """
    settings = Compression.from_value(compression, "compression")
    host, port, prefix, tls, query = _split(url)
    ssl_context = _tls_context(tls, ssl_context)
    if transport == "auto":
        transport = "websocket" if info(url, timeout, ssl_context).get("websocket") else "xhr-streaming"
    conn = ClientConnection(url)
    jar = CookieJar(cookies)
    conn.cookie_jar = jar
    impl: Transport
    if transport == RAW_WEBSOCKET:
        impl = WebSocketTransport(
            conn,
            host,
            port,
            prefix + "/websocket",
            headers,
            timeout,
            ssl_context,
            query,
            jar,
            raw=True,
            compression=settings,
        )
    else:
        cls = TRANSPORTS.get(transport)
        if cls is None:
            raise ValueError(
                f"unknown transport {transport!r}; choose from auto, {RAW_WEBSOCKET}, {', '.join(TRANSPORTS)}"
            )
        server_id = server_id or f"{random.randrange(1000):03d}"
        session_id = session_id or "".join(random.choices(string.ascii_lowercase + string.digits, k=12))
        session_path = f"{prefix}/{server_id}/{session_id}"
        if cls is WebSocketTransport:
            impl = WebSocketTransport(
                conn, host, port, session_path, headers, timeout, ssl_context, query, jar, compression=settings
            )
        else:
            impl = cls(conn, host, port, session_path, headers, timeout, ssl_context, query, jar)
    impl.idle_timeout = idle_timeout
    conn.transport = impl
    impl.start()
    if not conn.opened.wait(timeout):
        conn.close()
        raise ConnectError(f"session at {url} did not open within {timeout} s over {transport}")
    if not conn.was_opened:
        raise ConnectError(
            f"session at {url} closed before opening: {conn.close_code} {conn.close_reason}",
            conn.close_code,
            conn.close_reason,
        )
    return conn
