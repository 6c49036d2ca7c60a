"""WebSocket I/O on a gevent pywsgi connection.

The RFC 6455 work (handshake validation, framing, masking, close handshake,
ping/pong, size limits) is done by the ``websockets`` library's sans-I/O
``ServerProtocol``; this module only moves bytes between it and the socket.
The upgrade is plain WSGI: pywsgi hands upgrade requests the raw input
stream and writes a 101 without chunking, so the app decides (routing,
origin, options) before anything is sent.

When the app runs under gevent-websocket's handler instead, the handshake
has already happened and ``GeventWebSocketAdapter`` wraps its socket object.
"""

from __future__ import annotations

import io
import logging
import socket
from collections import deque
from typing import Any, Callable, Iterable, Optional, Union

import gevent
from gevent import ssl
from gevent.event import Event
from websockets.datastructures import Headers
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from .peerwatch import TAKE_SOCKET_KEY, find_socket
from .responses import Environ, StartResponse, error

log = logging.getLogger("sockjs_gevent.websocket")
#: The engine logs every open and close at INFO; keep that opt-in.
engine_log = logging.getLogger("sockjs_gevent.websocket.engine")
engine_log.setLevel(logging.WARNING)

#: How long to wait for the client's close frame or EOF after we close.
CLOSE_TIMEOUT = 5.0
_READ_SIZE = 65536
#: Reading stops while more than this waits to be written (the client is
#: not reading): its pings would otherwise pile up pongs without bound.
OUTPUT_HIGH_WATER = 256 * 1024
#: Most fragments one message may come in; more closes with 1009 (each
#: costs parsing, and empty ones would cost nothing against the size limit).
MAX_FRAGMENTS = 1024
#: Why reading is paused (``pause_reading``), as bits.
PAUSED_FOR_INBOX = 1
PAUSED_FOR_OUTPUT = 2


class WebSocket:
    """A server-side WebSocket over a pywsgi connection.

    Sends never block: the engine's output goes to an output buffer that is
    written straight to the socket when it accepts data, and otherwise by a
    libev write watcher as the client reads, so a send costs no greenlet
    switch and the session no writer greenlet. ``buffered`` tells how much
    the client has not taken yet.

    Reading is blocking (``receive()`` in the request's greenlet) or, when
    the socket is ``owned`` (handed over by sockjs_gevent's pywsgi handler),
    may be done from the event loop by ``start_reading()``: the request's
    greenlet is then free to end, and a session costs no greenlet but its
    handler's. Call ``finish()`` after blocking use, ``release()`` after
    ``start_reading()`` ended.
    """

    def __init__(
        self,
        engine: ServerProtocol,
        read: Optional[Callable[[int], bytes]],
        write: Callable[[bytes], Any],
        sock: Optional[socket.socket],
        pending: bytes = b"",
        owned: bool = False,
    ) -> None:
        self._engine = engine
        self._read = read
        self._write = write
        self._sock = sock
        self._pending = pending  # bytes the request reader had buffered past the handshake
        #: True when this object owns the socket and must close it.
        self.owned = owned
        self._reader: Any = None  # read watcher (owned sockets)
        self._on_message: Optional[Callable[[str], None]] = None
        self._on_end: Optional[Callable[[], None]] = None
        self._release_when_drained = False
        # The OS socket under gevent's wrapper is non-blocking: writing to it
        # directly never blocks. A TLS socket must go through its wrapper.
        raw = getattr(sock, "_sock", None)
        self._raw = raw if raw is not None and not isinstance(sock, ssl.SSLSocket) else None
        self._out = bytearray()
        self._out_eof = False  # end the TCP stream once ``_out`` is written
        self._watcher: Any = None  # write watcher while the socket is full
        self._writer: Optional[gevent.Greenlet] = None  # blocking writes when there is no raw socket
        self._drained: Optional[Event] = None
        self._broken = False
        self._messages: deque[str] = deque()
        self._fragments: list[bytes] = []
        self._fragment_opcode: Optional[Opcode] = None
        self._eof = False
        self._close_timer: Any = None
        self._paused = 0  # PAUSED_FOR_* bits; reading goes on when 0
        self._unpaused: Optional[Event] = None  # wakes a blocking reader
        #: Close code and reason the client sent, once it did.
        self.close_code: Optional[int] = None
        self.close_reason = ""

    @property
    def open(self) -> bool:
        return self._engine.state is State.OPEN

    @property
    def buffered(self) -> int:
        """Bytes sent but not yet taken by the client's TCP stack."""
        return len(self._out)

    def receive(self) -> Optional[str]:
        """The next text message; None once the connection is closed."""
        messages = self._messages
        while not messages:
            if self._eof:
                return None
            while self._paused and not self._eof:
                if self._unpaused is None:
                    self._unpaused = Event()
                self._unpaused.clear()
                self._unpaused.wait()
            if self._pending:
                data, self._pending = self._pending, b""
            else:
                try:
                    data = self._read(_READ_SIZE)  # type: ignore[misc]
                except (OSError, ValueError):  # ValueError: a TLS socket we already shut down
                    data = b""
            self._feed(data)
        return messages.popleft()

    def _feed(self, data: bytes) -> None:
        """Give the engine what arrived (b"" for end of stream); answer pings and closes."""
        engine = self._engine
        if data:
            engine.receive_data(data)
        else:
            self._eof = True
            engine.receive_eof()
        for event in engine.events_received():
            self._on_frame(event)
        self._flush()
        if len(self._out) > OUTPUT_HIGH_WATER:
            self.pause_reading(PAUSED_FOR_OUTPUT)
        if engine.state is State.CLOSED:
            self._eof = True

    # -- flow control --------------------------------------------------------

    def pause_reading(self, reason: int) -> None:
        """Stop reading for ``reason`` (a PAUSED_FOR_* bit): TCP pushes back on the client."""
        if not self._paused and self._reader is not None:
            self._reader.stop()
        self._paused |= reason

    def resume_reading(self, reason: int) -> None:
        """``reason`` is gone; reading goes on once no reason is left."""
        if not self._paused & reason:
            return
        self._paused &= ~reason
        if not self._paused:
            self._unpause()

    def _unpause(self) -> None:
        self._paused = 0
        if self._reader is not None:
            self._reader.start(self._on_readable)
        if self._unpaused is not None:
            self._unpaused.set()

    # -- reading from the event loop (owned sockets) ------------------------

    def start_reading(self, on_message: Callable[[str], None], on_end: Callable[[], None]) -> None:
        """Call ``on_message(text)`` per message and ``on_end()`` once, from the event loop.

        Neither may block. After ``on_end`` call ``release()``.
        """
        assert self.owned and self._raw is not None
        self._on_message = on_message
        self._on_end = on_end
        loop = gevent.get_hub().loop
        self._reader = loop.io(self._raw.fileno(), 1)
        self._reader.start(self._on_readable)
        if self._pending:
            data, self._pending = self._pending, b""
            loop.run_callback(self._take, data)

    def _on_readable(self) -> None:
        try:
            data = self._raw.recv(_READ_SIZE)  # type: ignore[union-attr]
        except BlockingIOError:
            return
        except OSError:
            data = b""
        try:
            self._take(data)
        except Exception:  # a bug must not leave the session hanging in the event loop
            log.exception("websocket read failed; closing the connection")
            self._fail(1011, "Internal error")
            self._take(b"")

    def _take(self, data: bytes) -> None:
        if self._on_end is None:
            return  # already ended
        self._feed(data)
        messages, on_message = self._messages, self._on_message
        while messages:
            on_message(messages.popleft())  # type: ignore[misc]
        if self._eof:
            self._stop_reading()
            self._on_message = None
            on_end, self._on_end = self._on_end, None
            on_end()

    def _stop_reading(self) -> None:
        if self._reader is not None:
            self._reader.stop()
            self._reader.close()
            self._reader = None

    def release(self) -> None:
        """Owned socket, reading ended: close it once the output is out (or the close timer fires)."""
        if self._out and not self._broken:
            self._release_when_drained = True
            self.hang_up_later()
        else:
            self._close_socket()

    def _close_socket(self) -> None:
        self._stop_reading()
        self._stop_watcher()
        self._stop_close_timer()
        self._broken = True
        self._shutdown(socket.SHUT_RDWR)
        if self._sock is not None:
            self._sock.close()

    def _on_frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if frame.fin:
                self._message(opcode, frame.data)
            else:
                self._fragment_opcode = opcode
                self._fragments = [frame.data]
        elif opcode is Opcode.CONT:
            self._fragments.append(frame.data)
            if len(self._fragments) > MAX_FRAGMENTS:
                self._fragments = []
                self._fail(1009, "Too many fragments in one message")
                return
            if frame.fin:
                data = b"".join(self._fragments)
                self._fragments = []
                self._message(self._fragment_opcode, data)
        elif opcode is Opcode.CLOSE:
            self.close_code = self._engine.close_rcvd.code if self._engine.close_rcvd else 1005
            self.close_reason = self._engine.close_rcvd.reason if self._engine.close_rcvd else ""

    def _message(self, opcode: Optional[Opcode], data: bytes) -> None:
        if opcode is Opcode.BINARY:
            self._fail(1003, "Binary messages are not supported")
            return
        try:
            self._messages.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            self._fail(1007, "Invalid UTF-8 in text message")

    def _fail(self, code: int, reason: str) -> None:
        self._engine.fail(code, reason)
        self._flush()
        self._eof = True

    def send(self, text: str) -> bool:
        """Send one text message; False if the connection is no longer open."""
        try:
            self._engine.send_text(text.encode("utf-8"))
        except InvalidState:
            return False
        return self._flush()

    def send_many(self, texts: Iterable[str]) -> bool:
        """Send several text messages in one write."""
        engine = self._engine
        try:
            for text in texts:
                engine.send_text(text.encode("utf-8"))
        except InvalidState:
            return False
        return self._flush()

    def ping(self) -> bool:
        try:
            self._engine.send_ping(b"")
        except InvalidState:
            return False
        return self._flush()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake; hang up if the client does not answer in time."""
        self.hang_up_later()
        if self._engine.state is State.OPEN:
            self._engine.send_close(code, reason)
            self._flush()

    def abort(self) -> None:
        """Drop the connection now, with no closing handshake.

        What the socket took already (a last message) goes out; anything
        still buffered is discarded. The client sees the stream end, not a
        clean close.
        """
        self._stop_close_timer()
        self._hang_up()

    def hang_up_later(self, delay: float = CLOSE_TIMEOUT) -> None:
        """Cut the connection in ``delay`` s unless finish() comes first.

        Frees a session whose client stopped reading or never answers a close.
        """
        if self._close_timer is None:
            self._close_timer = gevent.get_hub().loop.timer(delay)
            self._close_timer.start(self._hang_up)

    def _hang_up(self) -> None:
        self._eof = True
        self._broken = True
        self._out.clear()
        self._stop_watcher()
        if self._paused:
            self._unpause()  # a paused reader must see the end, or the session never ends
        if self.owned and self._on_end is None:
            self._close_socket()  # nobody reads it any more
        else:
            # A reader (the blocking one, or the read watcher) sees the end
            # of stream and ends the session.
            self._shutdown(socket.SHUT_RDWR)

    # -- output ------------------------------------------------------------

    def _flush(self) -> bool:
        """Move the engine's output to the socket; False once the connection is broken."""
        chunks = self._engine.data_to_send()
        if self._broken:
            return False
        if chunks:
            out = self._out
            for chunk in chunks:
                if chunk:
                    out += chunk
                else:  # the engine asks us to end the TCP stream
                    self._out_eof = True
            self._write_out()
        return not self._broken

    def _write_out(self) -> None:
        """Write what the socket takes now; wait for writability for the rest."""
        if self._raw is None:
            if self._writer is None:
                self._writer = gevent.spawn(self._write_blocking)
            return
        out = self._out
        if out and self._watcher is None:
            try:
                sent = self._raw.send(out)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._lost()
                return
            del out[:sent]
        if out:
            if self._watcher is None:
                self._watcher = gevent.get_hub().loop.io(self._raw.fileno(), 2)
                self._watcher.start(self._on_writable)
            return
        self._done_writing()

    def _on_writable(self) -> None:
        try:
            sent = self._raw.send(self._out)
        except BlockingIOError:
            return
        except OSError:
            self._lost()
            return
        del self._out[:sent]
        if not self._out:
            self._stop_watcher()
            self._done_writing()

    def _write_blocking(self) -> None:
        """Writer greenlet for servers that do not expose the raw socket."""
        try:
            while self._out:
                data = bytes(self._out)
                self._out.clear()
                self._write(data)
        except OSError:
            self._lost()
        else:
            self._done_writing()
        finally:
            self._writer = None

    def _done_writing(self) -> None:
        if self._paused & PAUSED_FOR_OUTPUT:
            self.resume_reading(PAUSED_FOR_OUTPUT)
        if self._out_eof:
            self._out_eof = False
            self._shutdown(socket.SHUT_WR)
        if self._drained is not None:
            self._drained.set()
        if self._release_when_drained:
            self._close_socket()

    def _lost(self) -> None:
        self._broken = True
        self._eof = True
        self._out.clear()
        self._stop_watcher()
        if self._paused:
            # The client is gone, but a paused reader would never find out.
            self._shutdown(socket.SHUT_RDWR)
            self._unpause()
        if self._drained is not None:
            self._drained.set()

    def _stop_watcher(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.close()
            self._watcher = None

    def _shutdown(self, how: int) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(how)
            except OSError:
                pass

    def _stop_close_timer(self) -> None:
        if self._close_timer is not None:
            self._close_timer.stop()
            self._close_timer.close()
            self._close_timer = None

    def finish(self) -> None:
        """After the session: let the output drain and the client close, then hang up."""
        with gevent.Timeout(CLOSE_TIMEOUT, False):
            if self._out and not self._broken:
                self._drained = Event()
                self._drained.wait()
            while not self._eof and self.receive() is not None:
                pass
        self._stop_close_timer()
        self._hang_up()


class GeventWebSocketAdapter:
    """The same interface over gevent-websocket's ``wsgi.websocket`` object.

    Kept so the app still mounts under ``geventwebsocket.handler.WebSocketHandler``;
    that library's own limits (no origin check before 101, pure-Python
    unmasking, lost close codes) apply on that path. Its sends block, so
    they run in a writer greenlet fed from a queue.
    """

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._queue: deque[tuple[int, Callable[[], Any]]] = deque()
        self._queued = 0
        self._writer: Optional[gevent.Greenlet] = None
        self._broken = False
        self._paused = 0
        self._unpaused: Optional[Event] = None
        self.close_code: Optional[int] = None
        self.close_reason = ""

    @property
    def open(self) -> bool:
        return not self._ws.closed and not self._broken

    @property
    def buffered(self) -> int:
        return self._queued

    def pause_reading(self, reason: int) -> None:
        """Stop reading (the next ``receive`` waits) until ``resume_reading``."""
        self._paused |= reason

    def resume_reading(self, reason: int) -> None:
        self._paused &= ~reason
        if not self._paused and self._unpaused is not None:
            self._unpaused.set()

    def receive(self) -> Optional[str]:
        while self._paused and not self._broken:
            if self._unpaused is None:
                self._unpaused = Event()
            self._unpaused.clear()
            self._unpaused.wait()
        try:
            message = self._ws.receive()
        except Exception:  # its WebSocketError and socket errors alike: no clean close
            return None
        if message is None:
            if self._ws.closed and self.close_code is None:
                self.close_code = 1000  # a close frame came; gevent-websocket does not keep its code
            return None
        if isinstance(message, (bytes, bytearray)):
            try:
                return bytes(message).decode("utf-8")
            except UnicodeDecodeError:
                return None
        return message

    def _submit(self, size: int, operation: Callable[[], Any]) -> bool:
        if self._broken:
            return False
        self._queue.append((size, operation))
        self._queued += size
        if self._writer is None:
            self._writer = gevent.spawn(self._write_loop)
        return True

    def _write_loop(self) -> None:
        queue = self._queue
        try:
            while queue:
                size, operation = queue.popleft()
                operation()
                self._queued -= size
        except Exception:  # its WebSocketError and socket errors alike
            self._broken = True
            queue.clear()
        finally:
            self._queued = 0
            self._writer = None

    def send(self, text: str) -> bool:
        return self._submit(len(text), lambda: self._ws.send(text))

    def send_many(self, texts: Iterable[str]) -> bool:
        return all(self.send(text) for text in texts)

    def ping(self) -> bool:
        return self._submit(0, lambda: self._ws.send_frame(b"", self._ws.OPCODE_PING))

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._submit(0, lambda: self._ws.close(code, reason.encode("utf-8")))

    def abort(self) -> None:
        """Drop the connection with no closing handshake, once queued sends are out."""
        self._submit(0, self._drop)

    def _drop(self) -> None:
        handler = getattr(getattr(self._ws, "stream", None), "handler", None)
        sock = getattr(handler, "socket", None)
        self._broken = True
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def hang_up_later(self, delay: float = CLOSE_TIMEOUT) -> None:
        pass  # gevent-websocket owns its socket

    def finish(self) -> None:
        writer = self._writer
        if writer is not None:
            writer.join(CLOSE_TIMEOUT)
        try:
            self._ws.close()
        except Exception:
            pass


AnyWebSocket = Union[WebSocket, GeventWebSocketAdapter]


def _handshake_request(environ: Environ) -> Request:
    headers = Headers()
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-")] = value
    # Versions 8 (hybi-10) and 13 frame identically; the engine knows only 13.
    if headers.get("Sec-WebSocket-Version") == "8":
        del headers["Sec-WebSocket-Version"]
        headers["Sec-WebSocket-Version"] = "13"
    path = environ.get("PATH_INFO", "/")
    if environ.get("QUERY_STRING"):
        path += "?" + environ["QUERY_STRING"]
    return Request(path, headers)


def accept(
    environ: Environ, start_response: StartResponse, max_message_size: int
) -> Union[AnyWebSocket, Iterable[bytes]]:
    """Upgrade this request to a WebSocket, or return the error answer (400)."""
    existing = environ.get("wsgi.websocket")
    if existing is not None:  # gevent-websocket's handler already upgraded
        return GeventWebSocketAdapter(existing)
    stream = environ.get("wsgi.input")
    read = getattr(stream, "read1", None) or getattr(stream, "read", None)
    if environ.get("REQUEST_METHOD") != "GET" or read is None:
        return error(environ, start_response, 400, "Not a valid websocket request")
    if environ.get("SERVER_PROTOCOL") != "HTTP/1.1":  # RFC 6455 4.1: HTTP/1.1 or higher
        return error(environ, start_response, 400, "Not a valid websocket request. Upgrades need HTTP/1.1.")
    response = ServerProtocol(logger=engine_log).accept(_handshake_request(environ))
    if response.status_code != 101:
        detail = response.body.decode("utf-8", "replace").strip()
        return error(environ, start_response, 400, f"Not a valid websocket request. {detail}")
    # pywsgi parsed the request and writes the response itself, so the
    # framing engine starts where a handshake would leave it: open.
    engine = ServerProtocol(state=State.OPEN, max_size=max_message_size, logger=engine_log)
    headers = [(k, v) for k, v in response.headers.raw_items() if k.lower() != "date"]
    write = start_response("101 Switching Protocols", headers)
    write(b"")  # send the 101 now
    sock = find_socket(environ)
    if sock is None or not hasattr(stream, "peek"):
        return WebSocket(engine, read, write, sock)
    pending = _take_buffered(stream, sock)
    # Nothing more will come through the request stream; do not let the
    # environ (which conn.environ keeps) hold its read buffer.
    environ["wsgi.input"] = io.BytesIO()
    take_socket = environ.get(TAKE_SOCKET_KEY)
    if take_socket is not None and not isinstance(sock, ssl.SSLSocket):
        # sockjs_gevent's own handler hands the socket over: read it from
        # the event loop and let the request's greenlet end.
        taken = take_socket()
        return WebSocket(engine, taken.recv, write, taken, pending, owned=True)
    sock.settimeout(None)  # an idle WebSocket is normal; heartbeats watch it
    return WebSocket(engine, sock.recv, write, sock, pending)


def _take_buffered(stream: Any, sock: socket.socket) -> bytes:
    """What the request reader had buffered past the handshake (a pipelined frame).

    After this, reads go to the socket itself: a read through the buffered
    request stream allocates its whole buffer before it waits (64 KiB held
    by every idle websocket); ``sock.recv`` waits first.
    """
    sock.settimeout(0.0)  # peek must not wait for the client
    try:
        pending = stream.peek(_READ_SIZE)
    except OSError:
        pending = b""
    finally:
        sock.settimeout(None)
    if pending:
        stream.read(len(pending))
    return pending


def is_websocket(obj: Any) -> bool:
    return isinstance(obj, (WebSocket, GeventWebSocketAdapter))
