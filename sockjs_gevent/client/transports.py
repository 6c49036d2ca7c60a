"""Client transports: each moves frames between a server and a ClientConnection."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

import gevent
from gevent import socket
from gevent.event import Event
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.protocol import Event as ProtocolEvent
from websockets.protocol import State
from websockets.typing import BytesLike
from websockets.uri import parse_uri

from ..compression import PERMESSAGE_DEFLATE, Compression
from .connection import ClientConnection
from .cookies import CookieJar
from .http import HttpClient, HttpError, ResponseHead, wrap_tls

Headers = Sequence[tuple[str, str]]


class Transport:
    """Common ground: where the session lives and who to tell."""

    name = ""

    def __init__(
        self,
        conn: ClientConnection,
        host: str,
        port: int,
        session_path: str,
        headers: Headers,
        timeout: float,
        ssl_context: Any = None,
        query: str = "",
        cookies: CookieJar | None = None,
    ) -> None:
        self.conn = conn
        #: The service URL's query string ("?token=..."), kept on every request of the session.
        self.query = f"?{query}" if query else ""
        #: Sent with every request, updated from every answer.
        self.cookies = cookies if cookies is not None else CookieJar()
        #: A client-side ``ssl.SSLContext`` for https/wss, or None.
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        self.session_path = session_path  # /prefix/<server>/<session>
        self.headers = list(headers)
        self.timeout = timeout
        #: Seconds the receiving side may hear nothing before the session is
        #: taken as broken (1006); None waits forever, as browsers do (the
        #: server's heartbeats show that it is alive). Set before ``start()``.
        self.idle_timeout: float | None = None
        self._greenlets: list[gevent.Greenlet] = []

    def start(self) -> None:
        self._greenlets.append(gevent.spawn(self._run))

    def _run(self) -> None:
        raise NotImplementedError

    def send(self, message: str) -> None:
        raise NotImplementedError

    def close(self, code: int, reason: str) -> None:
        current = gevent.getcurrent()
        gevent.killall([g for g in self._greenlets if g is not current], block=False)

    def target(self, name: str) -> str:
        """The request target of this session's ``name`` URL (``xhr_send``...), query included."""
        return f"{self.session_path}/{name}{self.query}"

    def request(
        self, http: HttpClient, method: str, name: str, headers: Headers = (), body: bytes = b""
    ) -> ResponseHead:
        """One request of the session on ``http``: its headers, cookies and query; cookies learnt from the answer."""
        response = http.request(method, self.target(name), [*headers, *self.headers, *self.cookies.header()], body)
        self.cookies.learn(response.headers)
        return response


class WebSocketTransport(Transport):
    """SockJS frames over one WebSocket (``/websocket``), or raw messages (``raw=True``)."""

    name = "websocket"

    def __init__(
        self,
        conn: ClientConnection,
        host: str,
        port: int,
        session_path: str,
        headers: Headers,
        timeout: float,
        ssl_context: Any = None,
        query: str = "",
        cookies: CookieJar | None = None,
        *,
        raw: bool = False,
        compression: Compression | None = None,
    ) -> None:
        """``compression``: offer permessage-deflate with these settings (the server may decline)."""
        super().__init__(conn, host, port, session_path, headers, timeout, ssl_context, query, cookies)
        self.raw = raw
        self.compression = compression
        self._sock: socket.socket | None = None
        self._engine: ClientProtocol | None = None

    @property
    def compressed(self) -> bool:
        """The server agreed permessage-deflate (known once the session is open)."""
        engine = self._engine
        return engine is not None and any(e.name == PERMESSAGE_DEFLATE for e in engine.extensions)

    def _run(self) -> None:
        try:
            self._handshake()
            self._read_loop()
        except (OSError, HttpError) as exc:
            self.conn.broken(1006, f"WebSocket failed: {exc}")
        finally:
            if self._sock is not None:
                self._sock.close()
        self.conn.broken()

    def _handshake(self) -> None:
        path = self.target("websocket") if not self.raw else self.session_path + self.query
        scheme = "wss" if self.ssl_context is not None else "ws"
        extensions = [self.compression.client_factory()] if self.compression is not None else None
        self._engine = ClientProtocol(
            parse_uri(f"{scheme}://{self.host}:{self.port}{path}"), max_size=None, extensions=extensions
        )
        request = self._engine.connect()
        for key, value in [*self.headers, *self.cookies.header()]:
            request.headers[key] = value
        self._engine.send_request(request)
        self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            self._sock = wrap_tls(self._sock, self.ssl_context, self.host)
        self._flush()
        self._sock.settimeout(self.idle_timeout)

    def _connected(self) -> tuple[ClientProtocol, socket.socket]:
        """The protocol and the socket (the read loop and the writes run once ``_handshake`` made both)."""
        engine, sock = self._engine, self._sock
        assert engine is not None and sock is not None
        return engine, sock

    def _feed(self) -> list[ProtocolEvent]:
        engine, sock = self._connected()
        data = sock.recv(65536)
        if data:
            engine.receive_data(data)
        else:
            engine.receive_eof()
        events = engine.events_received()
        self._flush()
        if engine.handshake_exc is not None:
            raise HttpError(f"handshake refused: {engine.handshake_exc}")
        if not data and not events:
            raise HttpError("connection closed")
        return events

    def _read_loop(self) -> None:
        engine, _ = self._connected()
        fragments: list[BytesLike] = []
        while True:
            for event in self._feed():
                if not isinstance(event, Frame):  # the handshake response
                    if self.raw:
                        self.conn.mark_open()
                    continue
                opcode = event.opcode
                if opcode is Opcode.TEXT or opcode is Opcode.CONT:
                    fragments.append(event.data)
                    if not event.fin:
                        continue
                    text = b"".join(fragments).decode("utf-8")
                    fragments = []
                    if self.raw:
                        self.conn.handle_message(text)
                    else:
                        self.conn.handle_frame(text)
                elif opcode is Opcode.CLOSE:
                    received = engine.close_rcvd
                    if received is not None and (self.raw or not self.conn.closed):
                        self.conn.broken(received.code, received.reason)
            if engine.state is State.CLOSED:
                return

    def send(self, message: str) -> None:
        if self._engine is None or self._engine.state is not State.OPEN:
            return
        payload = message if self.raw else json.dumps([message])
        try:
            self._engine.send_text(payload.encode("utf-8", "surrogatepass"))
            self._flush()
        except (InvalidState, OSError):
            pass

    def _flush(self) -> None:
        engine, sock = self._connected()
        for chunk in engine.data_to_send():
            if chunk:
                sock.sendall(chunk)

    def close(self, code: int, reason: str) -> None:
        if self._engine is not None and self._engine.state is State.OPEN:
            try:
                self._engine.send_close(code if self.raw else 1000, reason if self.raw else "")
                self._flush()
            except (InvalidState, OSError):
                pass
        super().close(code, reason)
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class HttpSender:
    """Sends buffered messages with POST xhr_send, one request at a time."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.http = HttpClient(transport.host, transport.port, transport.timeout, transport.ssl_context)
        self.buffer: list[str] = []
        self.wakeup = Event()
        self.greenlet = gevent.spawn(self._run)
        transport._greenlets.append(self.greenlet)

    def send(self, message: str) -> None:
        self.buffer.append(message)
        self.wakeup.set()

    def _run(self) -> None:
        transport = self.transport
        conn = transport.conn
        headers = [("Content-Type", "text/plain;charset=UTF-8")]
        while True:
            self.wakeup.wait()
            self.wakeup.clear()
            batch, self.buffer = self.buffer, []
            if not batch:
                continue
            body = json.dumps(batch).encode("utf-8", "surrogatepass")
            try:
                response = transport.request(self.http, "POST", "xhr_send", headers, body)
                self.http.read_body()
            except HttpError as exc:
                conn.broken(1006, f"xhr_send failed: {exc}")
                return
            if response.status not in (200, 204):
                conn.broken(1006, f"xhr_send answered {response.status}")
                return

    def close(self) -> None:
        self.http.close()


class HttpReceivingTransport(Transport):
    """Receiving over HTTP requests; sending with xhr_send."""

    def start(self) -> None:
        self.sender = HttpSender(self)
        self.http = HttpClient(self.host, self.port, self.timeout, self.ssl_context)
        # A poll or stream may rightly stay silent until the server's next
        # heartbeat (25 s by default), far longer than the connect timeout.
        self.http.read_timeout = self.idle_timeout
        super().start()

    def send(self, message: str) -> None:
        self.sender.send(message)

    def close(self, code: int, reason: str) -> None:
        super().close(code, reason)
        self.http.close()
        self.sender.close()

    def _run(self) -> None:
        try:
            while not self.conn.closed:
                self._receive_once()
        except HttpError as exc:
            self.conn.broken(1006, f"{self.name} failed: {exc}")

    def _receive_once(self) -> None:
        raise NotImplementedError

    def _expect_ok(self, method: str, transport: str) -> None:
        response = self.request(self.http, method, transport)
        if response.status != 200:
            body = self.http.read_body()[:200]
            raise HttpError(f"{transport} answered {response.status}: {body!r}")


class XhrStreamingTransport(HttpReceivingTransport):
    """Frames as lines of a chunked POST response; reopened at the response limit."""

    name = "xhr-streaming"

    def _receive_once(self) -> None:
        self._expect_ok("POST", "xhr_streaming")
        buffer = b""
        prelude = True
        for chunk in self.http.iter_body():
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if prelude:
                    prelude = False  # the 2048 h's
                    continue
                self.conn.handle_frame(line.decode("utf-8"))


class EventSourceTransport(HttpReceivingTransport):
    """Frames as server-sent events (``data: ...``), URI-escaped by the server."""

    name = "eventsource"

    def _receive_once(self) -> None:
        self._expect_ok("GET", "eventsource")
        buffer = b""
        for chunk in self.http.iter_body():
            buffer += chunk
            *events, buffer = buffer.split(b"\r\n\r\n")
            for event in events:
                for line in event.split(b"\r\n"):
                    if line.startswith(b"data: "):
                        self.conn.handle_frame(unquote(line[6:].decode("utf-8")))


class XhrPollingTransport(HttpReceivingTransport):
    """One frame per POST /xhr; the next poll starts at once."""

    name = "xhr-polling"

    def _receive_once(self) -> None:
        self._expect_ok("POST", "xhr")
        for line in self.http.read_body().split(b"\n"):
            if line:
                self.conn.handle_frame(line.decode("utf-8"))


TRANSPORTS = {t.name: t for t in (WebSocketTransport, XhrStreamingTransport, EventSourceTransport, XhrPollingTransport)}
