"""The WebSocket upgrade, as plain WSGI: the app decides before any 101 is sent.

``accept`` checks the request (RFC 6455: key, version, headers), answers
101 through ``start_response``, and returns a ``Handshake`` either way: the WebSocket
to serve and its first bytes, or the error answer to return. The
connection is then read from the event loop when the server hands its
socket over (``take_socket``), by the request's greenlet otherwise (gevent's
stock pywsgi handler, TLS), or through gevent-websocket's object when that
handler already upgraded. The 101 is sent here (``write(b"")``), unless
the caller asks to hold it (``hold_head``) and the server hands the socket
over with the head unsent (sockjs_gevent's servers: ``take_with_head``):
then it goes out with the first frame, in one send.

The check is the websockets library's ``ServerProtocol.accept``, except
for the request every browser sends when no extension is configured
(``Connection`` of plain tokens including ``upgrade``, ``Upgrade:
websocket``, a 16-byte key, version 13, no subprotocol asked): that one is
accepted here with the same three headers (about 2 us, against about 25
for building the protocol and ``accept``), and the engine makes its
protocol object only if a frame needs it. Anything else
(compression on, a subprotocol, an unusual or broken header) goes through
``ServerProtocol.accept``, which accepts or explains the refusal. A test
checks on random requests that what is accepted here is accepted there
with the same answer.
"""

from __future__ import annotations

import _socket
import base64
import binascii
import io
import re
from collections.abc import Iterable
from typing import Any

from gevent import ssl
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHeaderValue
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.utils import accept_key

from ..compression import Compression
from ..peerwatch import TAKE_SOCKET_KEY, find_socket
from ..responses import Environ, StartResponse, error
from .adapter import GeventWebSocketAdapter
from .base import READ_SIZE
from .blocking import BlockingWebSocket
from .engine import Engine, engine_log
from .evented import EventLoopWebSocket
from .writers import SocketWriter

AnyWebSocket = EventLoopWebSocket | BlockingWebSocket | GeventWebSocketAdapter

#: The request headers the handshake looks at (the rest of the head is not copied).
_HANDSHAKE_HEADERS = (
    ("HTTP_HOST", "Host"),
    ("HTTP_UPGRADE", "Upgrade"),
    ("HTTP_CONNECTION", "Connection"),
    ("HTTP_SEC_WEBSOCKET_KEY", "Sec-WebSocket-Key"),
    ("HTTP_SEC_WEBSOCKET_VERSION", "Sec-WebSocket-Version"),
    ("HTTP_SEC_WEBSOCKET_EXTENSIONS", "Sec-WebSocket-Extensions"),
    ("HTTP_SEC_WEBSOCKET_PROTOCOL", "Sec-WebSocket-Protocol"),
)
_NO_BODY: tuple[bytes, ...] = ()
#: A Connection header of plain tokens (letters and hyphens), comma-separated: always well-formed.
_PLAIN_CONNECTION = re.compile(r"[A-Za-z-]+(?:[ \t]*,[ \t]*[A-Za-z-]+)*")


class Handshake:
    """What an upgrade request came to.

    ``websocket`` is the connection to serve (None if refused) and
    ``pending`` the bytes the client sent right after its handshake;
    ``answer`` is what the app returns to the server: the error page of a
    refusal, or nothing after the 101.

    The 101 may still wait, to go out with the first frame in one send
    (the server handed the socket over with the head unsent, see
    ``sockettaker``): the caller writes its first frames at once, then
    calls ``send_head()``, which sends the 101 alone if no frame took it.
    """

    __slots__ = ("websocket", "pending", "answer", "_head_writer")

    def __init__(
        self,
        websocket: AnyWebSocket | None,
        answer: Iterable[bytes] = _NO_BODY,
        pending: bytes = b"",
        head_writer: SocketWriter | None = None,
    ) -> None:
        self.websocket = websocket
        self.answer = answer
        self.pending = pending
        self._head_writer = head_writer  # holds the 101 until the first write

    def send_head(self) -> None:
        """Make sure the 101 is out: sent now if no write has taken it yet (a no-op once it has)."""
        writer = self._head_writer
        if writer is not None:
            self._head_writer = None
            writer.send_held()


def _handshake_request(environ: Environ) -> Request:
    headers = Headers()
    for key, name in _HANDSHAKE_HEADERS:
        value = environ.get(key)
        if value is not None:
            headers[name] = value
    # Versions 8 (hybi-10) and 13 frame identically; the engine knows only 13.
    if headers.get("Sec-WebSocket-Version") == "8":
        del headers["Sec-WebSocket-Version"]
        headers["Sec-WebSocket-Version"] = "13"
    path = environ.get("PATH_INFO", "/")
    if environ.get("QUERY_STRING"):
        path += "?" + environ["QUERY_STRING"]
    return Request(path, headers)


def plain_upgrade(environ: Environ) -> list[tuple[str, str]] | None:
    """The 101's headers for the everyday upgrade request with no extension to negotiate; None for any other.

    None is not a refusal: the request then goes through the websockets
    library's full check.
    """
    connection = environ.get("HTTP_CONNECTION")
    upgrade = environ.get("HTTP_UPGRADE")
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY")
    if (
        connection is None
        or upgrade is None
        or key is None
        or upgrade.lower() != "websocket"
        or environ.get("HTTP_SEC_WEBSOCKET_VERSION") not in ("13", "8")  # 8 frames as 13 does
        or "HTTP_SEC_WEBSOCKET_PROTOCOL" in environ
        or not _PLAIN_CONNECTION.fullmatch(connection)
        or "upgrade" not in [token.strip().lower() for token in connection.split(",")]
    ):
        return None
    try:
        if len(base64.b64decode(key.encode(), validate=True)) != 16:
            return None
    except (binascii.Error, UnicodeEncodeError):
        return None
    return [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept_key(key))]


def accept(
    environ: Environ,
    start_response: StartResponse,
    max_message_size: int,
    compression: Compression | None = None,
    hold_head: bool = False,
) -> Handshake:
    """Upgrade this request to a WebSocket, or refuse it (400).

    With ``compression``, permessage-deflate is agreed when the client
    offers it (the websockets library negotiates, and compresses); a
    client that does not offer it gets a plain connection. Under
    gevent-websocket's handler, which has upgraded already, there is none.

    ``hold_head``: where the server can (``take_with_head``), the 101 waits
    to go out with the first frame; the caller writes its first frames at
    once and then calls ``Handshake.send_head()``. Otherwise the 101 is
    sent before this returns.
    """
    existing = environ.get("wsgi.websocket")
    if existing is not None:  # gevent-websocket's handler already upgraded
        return Handshake(GeventWebSocketAdapter(existing))
    stream = environ.get("wsgi.input")
    read = getattr(stream, "read1", None) or getattr(stream, "read", None)
    if environ.get("REQUEST_METHOD") != "GET" or read is None:
        return Handshake(None, error(environ, start_response, 400, "Not a valid websocket request"))
    if environ.get("SERVER_PROTOCOL") != "HTTP/1.1":  # RFC 6455 4.1: HTTP/1.1 or higher
        return Handshake(
            None, error(environ, start_response, 400, "Not a valid websocket request. Upgrades need HTTP/1.1.")
        )
    # The server parsed the request and writes the 101 itself, so the
    # protocol starts where a handshake would leave it, open (its parser
    # then reads frames); accept() still checks the request and negotiates.
    headers = plain_upgrade(environ) if compression is None else None
    if headers is not None:
        engine = Engine(None, max_size=max_message_size)
    else:
        extensions = [compression.server_factory()] if compression is not None else None
        protocol = ServerProtocol(state=State.OPEN, max_size=max_message_size, logger=engine_log, extensions=extensions)
        try:
            request = _handshake_request(environ)
        except InvalidHeaderValue as exc:  # a control character (servers that let one through)
            return Handshake(None, error(environ, start_response, 400, f"Not a valid websocket request. {exc}."))
        response = protocol.accept(request)
        if response.status_code != 101:
            detail = response.body.decode("utf-8", "replace").strip()
            return Handshake(None, error(environ, start_response, 400, f"Not a valid websocket request. {detail}"))
        engine = Engine(protocol)
        headers = [(k, v) for k, v in response.headers.raw_items() if k.lower() != "date"]
    write = start_response("101 Switching Protocols", headers)
    sock = find_socket(environ)
    take_socket = environ.get(TAKE_SOCKET_KEY)
    # sockjs_gevent's servers can hand the socket over with the 101 unsent:
    # it goes out with the first frame, in one send (``Handshake.send_head``).
    take_with_head = getattr(take_socket, "take_with_head", None) if hold_head else None
    if take_with_head is None or sock is None or isinstance(sock, ssl.SSLSocket) or not hasattr(stream, "peek"):
        write(b"")  # send the 101 now
    if sock is None or not hasattr(stream, "peek"):
        return Handshake(BlockingWebSocket(engine, sock, read, write))  # the server hides the socket
    pending = _take_buffered(stream, sock)
    # Nothing more will come through the request stream; do not let the
    # environ (which conn.environ keeps) hold its read buffer.
    environ["wsgi.input"] = io.BytesIO()
    if isinstance(sock, ssl.SSLSocket):
        sock.settimeout(None)  # an idle WebSocket is normal; heartbeats watch it
        return Handshake(BlockingWebSocket(engine, sock, sock.recv, write, pending))
    if take_socket is None:  # gevent's stock handler: its greenlet reads until the end
        sock.settimeout(None)
        return Handshake(BlockingWebSocket(engine, sock, sock.recv, None, pending))
    # sockjs_gevent's servers hand the socket over: it is read from the event
    # loop and the request's greenlet ends now.
    if take_with_head is None:
        taken, head = take_socket(), b""
    else:
        taken, head = take_with_head()
    if not isinstance(taken, _socket.socket):
        raise TypeError(f"{TAKE_SOCKET_KEY} must return a socket.socket, got {taken!r}")
    ws = EventLoopWebSocket(engine, taken)
    if not head:
        return Handshake(ws, pending=pending)
    writer = ws._writer  # (this package's: an EventLoopWebSocket writes through a SocketWriter)
    assert isinstance(writer, SocketWriter)
    writer.hold(head)
    return Handshake(ws, pending=pending, head_writer=writer)


def _take_buffered(stream: Any, sock: Any) -> bytes:
    """What the request reader had buffered past the handshake (a pipelined frame).

    After this, reads go to the socket itself: a read through the buffered
    request stream allocates its whole buffer before it waits (64 KiB held
    by every idle websocket); ``sock.recv`` waits first.
    """
    waits = sock.gettimeout() != 0.0  # (gevent's socket under pywsgi; the httptools server's never waits)
    if waits:
        sock.settimeout(0.0)  # peek must not wait for the client
    try:
        pending = stream.peek(READ_SIZE)
    except OSError:
        pending = b""
    finally:
        if waits:
            sock.settimeout(None)
    if pending:
        stream.read(len(pending))
    return pending
