"""RFC 6455 for one server-side connection, with no I/O: bytes in, text messages out, and back.

The websockets library's sans-I/O ``ServerProtocol`` does the protocol work
(framing, masking, control frames, the close handshake, the size limit).
``Engine`` adds what a SockJS server needs on top: text messages only
(binary closes 1003, invalid UTF-8 1007) and a bound on the fragments of
one message (1009), each empty fragment otherwise costing parsing but
nothing against the size limit.

With permessage-deflate agreed (option ``websocket_compression``), every
frame both ways goes through the protocol: its extension inflates what
arrives (never more than the size limit of one message, fragments counted
together, so a zip bomb closes 1009) and compresses what is sent.

Without extensions the protocol object is made only when a frame needs it
(a ping or pong, a fragment, a malformed frame, a close we start): an open
connection that only exchanges plain text messages never has one, which is
1 KiB less per idle session and its construction less per open.

The client's close takes the short path too when it is well formed (empty,
or a code the protocol accepts and a UTF-8 reason) and no message is half
received: it is echoed as the protocol echoes it, and the engine is closed
at once (the server ends the TCP connection first, RFC 6455 7.1.1), so a
session the client ends never builds the protocol either. Any other close
frame goes to the protocol, which fails the connection as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from websockets.exceptions import InvalidState
from websockets.frames import EXTERNAL_CLOSE_CODES, Frame, Opcode, apply_mask
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import BytesLike

from ..compression import PERMESSAGE_DEFLATE

#: The protocol logs every open and close at INFO; keep that opt-in.
engine_log = logging.getLogger("sockjs_gevent.websocket.engine")
engine_log.setLevel(logging.WARNING)

#: Most fragments one message may come in.
MAX_FRAGMENTS = 1024


#: A final, unfragmented text frame with no extension bits: the message of
#: nearly every frame a client sends.
_FIN_TEXT = 0x81
#: A close frame (final, no extension bits).
_FIN_CLOSE = 0x88
_NOTHING = (b"", False)
#: A frame longer than this that has not fully arrived streams through the
#: protocol instead of waiting here whole.
_LONG_FRAME = 65536
#: Opcodes RFC 6455 defines: continuation, text, binary, close, ping, pong.
_OPCODES = frozenset((0, 1, 2, 8, 9, 10))


def _frame_texts(texts: Iterable[str]) -> bytes:
    """Text messages as unmasked, final, unfragmented frames (the short path's framing), joined."""
    framed = []
    for text in texts:
        payload = text.encode("utf-8")
        length = len(payload)
        if length < 126:
            framed.append(bytes((_FIN_TEXT, length)) + payload)
        elif length < 65536:
            framed.append(bytes((_FIN_TEXT, 126)) + length.to_bytes(2, "big") + payload)
        else:
            framed.append(bytes((_FIN_TEXT, 127)) + length.to_bytes(8, "big") + payload)
    return b"".join(framed)


def _refused_header(first: int, second: int, length: int) -> bool:
    """A frame header the protocol fails the connection for, as soon as it reads it."""
    opcode = first & 0x0F
    if not second & 0x80 or first & 0x70 or opcode not in _OPCODES:
        return True  # unmasked, reserved bits, unknown opcode
    return opcode >= 8 and (not first & 0x80 or length > 125)  # a fragmented or long control frame


class Engine:
    """One WebSocket connection's protocol state; the caller moves the bytes.

    The common case takes a short path: a client's complete, final, masked
    text frame with no extension is unmasked and decoded here, and a text
    message sent is framed here (server frames are not masked), about a
    third of the per-message cost of going through the protocol's
    generator-based parser. A well-formed close frame from the client is
    answered here too (``_close_fast``), which ends the engine. Every other
    frame (pings, pongs, fragments, malformed close frames, frames over the
    size limit, anything once extensions are negotiated or the connection
    is closing) goes to the protocol whole, so its parser never holds a
    partial frame and the two never disagree about where a frame begins. A
    test drives both paths with the same random frames and compares.
    """

    __slots__ = (
        "_protocol",
        "_fragments",
        "_fragment_opcode",
        "close_code",
        "close_reason",
        "_pending_in",
        "_owed",
        "_out",
        "_protocol_only",
        "_max_size",
        "_failed",
        "_touched",
        "_protocol_ran",
        "_ended",
        "plain",
    )

    def __init__(self, protocol: ServerProtocol | None, short_path: bool = True, max_size: int | None = None) -> None:
        """``protocol``: the open protocol that negotiated the connection, or None to make one when needed
        (no extensions; ``max_size`` is then the limit on one message)."""
        self._protocol = protocol
        self._fragments: list[BytesLike] | None = None
        self._fragment_opcode: Opcode | None = None
        #: The close code and reason the client sent, once it did (None: it has not).
        self.close_code: int | None = None
        self.close_reason = ""
        self._pending_in = b""  # the start of a short frame whose end has not arrived
        self._owed = 0  # bytes of a long frame still to go to the protocol
        self._out: list[bytes] = []  # framed output, in order with the protocol's own
        # Everything through the protocol: negotiated extensions (compression)
        # rewrite frames, and once raw bytes went to it, it may hold a partial frame.
        self._protocol_only = not short_path or (protocol is not None and bool(protocol.extensions))
        self._max_size: int | None = protocol.max_message_size if protocol is not None else max_size
        self._failed = False  # we failed the connection: nothing after that is a message
        self._touched = False  # the protocol may have output (only the short path ran since it was asked)
        self._protocol_ran = False  # anything went through the protocol (it may have closed)
        self._ended = False  # the short path answered the client's close: the connection is over
        #: Only the short path has run, and it ended nothing: ``over`` is False without asking
        #: (a reader checks this attribute first, once per read).
        self.plain = True

    def _made(self) -> ServerProtocol:
        """The protocol, made now if it was not yet (it starts open, as the connection did)."""
        protocol = self._protocol
        if protocol is None:
            protocol = self._protocol = ServerProtocol(state=State.OPEN, max_size=self._max_size, logger=engine_log)
        return protocol

    @property
    def compressed(self) -> bool:
        """permessage-deflate was agreed: every frame, both ways, goes through the protocol."""
        protocol = self._protocol
        return protocol is not None and any(e.name == PERMESSAGE_DEFLATE for e in protocol.extensions)

    @property
    def open(self) -> bool:
        if self._ended:
            return False
        return self._protocol is None or self._protocol.state is State.OPEN

    @property
    def closed(self) -> bool:
        """The connection is over: closing handshake done, or the stream ended."""
        if self._ended:
            return True
        return self._protocol is not None and self._protocol.state is State.CLOSED

    @property
    def over(self) -> bool:
        """Reading should end: the connection is closed, or we failed it (its last bytes are unwanted).

        Only the protocol's own work or a close the short path answered can
        end it; while the short path alone has run, this asks nothing of the
        protocol.
        """
        return self._ended or self._failed or (self._protocol_ran and self._made().state is State.CLOSED)

    # -- bytes in -------------------------------------------------------------------

    def feed(self, data: bytes) -> list[str]:
        """Feed what arrived (``b""`` for the end of the stream); the complete text messages in it."""
        messages: list[str] = []
        protocol: ServerProtocol | None
        if self._ended:
            return messages  # the closing handshake is done: whatever follows is discarded
        if not data:
            protocol = self._made()
            if self._pending_in:
                protocol.receive_data(self._pending_in)
                self._pending_in = b""
            protocol.receive_eof()
            self._events(messages)
            return messages
        if self._protocol_only:
            self._made().receive_data(data)
            self._events(messages)
            return messages
        protocol = self._protocol  # None until a frame needs it
        owed = self._owed
        if owed:  # the protocol is in the middle of a long frame: its bytes first
            protocol = self._made()
            if len(data) <= owed:
                self._owed = owed - len(data)
                protocol.receive_data(data)
                self._events(messages)
                return messages
            self._owed = 0
            protocol.receive_data(data[:owed])
            self._events(messages)
            data = data[owed:]
        buf = self._pending_in + data if self._pending_in else data
        end = len(buf)
        pos = 0
        max_size = self._max_size
        handover = False  # the rest goes to the protocol, and from now on everything does
        while pos < end:
            if protocol is not None and protocol.state is not State.OPEN:
                handover = True  # closing: the rest is the protocol's
                break
            if end - pos < 2:
                break
            first, second = buf[pos], buf[pos + 1]
            length = second & 0x7F
            head = 2
            if length == 126:
                if end - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if end - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if (max_size is not None and length > max_size) or (
                (first != _FIN_TEXT or second < 0x80) and _refused_header(first, second, length)
            ):  # (a masked final text frame is never refused: no call for it)
                handover = True  # the protocol fails the connection at this header: let it, now
                break
            head += 4  # the mask (a client's frames are masked, or refused just above)
            total = head + length
            available = end - pos
            if available < total:
                if total > _LONG_FRAME:
                    # A long frame streams through the protocol as it comes
                    # (held here it would be copied at every read).
                    protocol = self._made()
                    protocol.receive_data(buf[pos:])
                    self._owed = total - available
                    pos = end
                    self._events(messages)
                break
            if first == _FIN_TEXT and self._fragments is None:
                payload = apply_mask(buf[pos + head : pos + total], buf[pos + head - 4 : pos + head])
                pos += total
                try:
                    messages.append(payload.decode("utf-8"))
                except UnicodeDecodeError:
                    self.fail(1007, "Invalid UTF-8 in text message")
            elif (
                first == _FIN_CLOSE and self._fragments is None and self._close_fast(buf[pos + head - 4 : pos + total])
            ):
                self._pending_in = b""
                return messages  # the rest of the read comes after the close: discarded
            else:
                protocol = self._made()
                protocol.receive_data(buf[pos : pos + total])
                pos += total
                self._events(messages)
        if handover:
            self._pending_in = b""
            self._protocol_only = True
            self._made().receive_data(buf[pos:])
            self._events(messages)
        else:
            self._pending_in = buf[pos:] if pos < end else b""  # the start of a frame still coming
        return messages

    def _close_fast(self, frame: bytes) -> bool:
        """Answer the client's close frame (``frame``: its mask and payload) as the protocol would.

        False, having done nothing, when the protocol should see it: a
        one-byte payload, a code it refuses, a reason that is not UTF-8.
        """
        payload = apply_mask(frame[4:], frame[:4]) if len(frame) > 4 else b""
        length = len(payload)
        if length:
            if length == 1:
                return False
            code = int.from_bytes(payload[:2], "big")
            if not (code in EXTERNAL_CLOSE_CODES or 3000 <= code < 5000):
                return False
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                return False
        else:
            code, reason = 1005, ""  # no status received
        self.close_code = code
        self.close_reason = reason
        self._ended = True
        self.plain = False
        out = self._out
        protocol = self._protocol
        if protocol is not None:
            earlier = protocol.data_to_send()  # a pong, say: it goes first
            if earlier:
                out.extend(earlier)
        # The protocol echoes the payload it received, then ends the stream (the empty chunk).
        out.append(bytes((_FIN_CLOSE, length)) + payload)
        out.append(b"")
        self._touched = True
        return True

    def _events(self, messages: list[str]) -> None:
        """Turn the protocol's parsed frames into messages (and note a close)."""
        protocol = self._made()
        self._touched = self._protocol_ran = True  # it may answer (a pong, a close), or have closed
        self.plain = False
        for frame in protocol.events_received():
            assert isinstance(frame, Frame)  # (the handshake was over before the protocol saw a byte)
            opcode = frame.opcode
            if self._failed and opcode is not Opcode.CLOSE:
                continue  # parsed in the same read as the frame that failed the connection
            if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                if frame.fin:
                    self._message(opcode, frame.data, messages)
                else:
                    self._fragment_opcode = opcode
                    self._fragments = [frame.data]
            elif opcode is Opcode.CONT:
                fragments = self._fragments
                if fragments is None:
                    continue  # the protocol would have failed the connection already
                fragments.append(frame.data)
                if len(fragments) > MAX_FRAGMENTS:
                    self._fragments = None
                    self.fail(1009, "Too many fragments in one message")
                elif frame.fin:
                    self._fragments = None
                    self._message(self._fragment_opcode, b"".join(fragments), messages)
            elif opcode is Opcode.CLOSE:
                received = protocol.close_rcvd
                self.close_code = received.code if received is not None else 1005
                self.close_reason = received.reason if received is not None else ""

    def _message(self, opcode: Opcode | None, data: BytesLike, messages: list[str]) -> None:
        if opcode is Opcode.BINARY:
            self.fail(1003, "Binary messages are not supported")
            return
        try:
            messages.append(str(data, "utf-8"))
        except UnicodeDecodeError:
            self.fail(1007, "Invalid UTF-8 in text message")

    # -- messages out ---------------------------------------------------------------

    def send_texts(self, texts: Iterable[str]) -> bool:
        """Frame text messages; False once the connection is not open."""
        if self._ended:
            return False
        protocol = self._protocol
        if self._protocol_only or (protocol is not None and protocol.state is not State.OPEN):
            protocol = self._made()
            self._touched = True
            try:
                for text in texts:
                    protocol.send_text(text.encode("utf-8"))
            except InvalidState:
                return False
            return True
        out = self._out
        if protocol is not None:
            earlier = protocol.data_to_send()  # a pong, say: it goes first
            if earlier:
                out.extend(earlier)
        framed = _frame_texts(texts)
        if framed:  # (never an empty chunk: in output() that means the end of the stream)
            out.append(framed)
        return True

    def ping(self) -> bool:
        if self._ended:
            return False
        self._touched = True
        try:
            self._made().send_ping(b"")
        except InvalidState:
            return False
        return True

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake (if still open)."""
        if self._ended:
            return
        protocol = self._made()
        if protocol.state is State.OPEN:
            self._touched = True
            protocol.send_close(code, reason)

    def fail(self, code: int, reason: str) -> None:
        """Close at once for a protocol problem: a close frame, then the end of the stream."""
        if self._ended:
            return
        self._failed = True
        self.plain = False
        self._touched = True
        self._made().fail(code, reason)

    def frame_now(self, texts: Iterable[str]) -> bytes | None:
        """``texts`` framed, to write now, when nothing else waits to go before them; else None (nothing done).

        The common send: no protocol output pending, no frame of ours
        waiting, the short path open. It is ``send_texts`` then
        ``output()``, without the list between them. None: call those.
        """
        if self._touched or self._out or self._protocol_only or self._ended:
            return None
        protocol = self._protocol
        earlier = b""
        if protocol is not None:
            if protocol.state is not State.OPEN:
                return None
            chunks = protocol.data_to_send()  # a pong, say: it goes first
            if chunks:
                earlier = b"".join(chunks)
        framed = _frame_texts(texts)
        return earlier + framed if earlier else framed

    @property
    def has_output(self) -> bool:
        """Whether ``output()`` may have something (False: it would return nothing)."""
        return self._touched or bool(self._out)

    def output(self) -> tuple[bytes, bool]:
        """What to write now, and whether to end the TCP stream after it."""
        out = self._out
        if not self._touched:
            if not out:
                return _NOTHING
            self._out = []
            return b"".join(out), False
        self._touched = False
        protocol = self._protocol  # (None only after a close answered on the short path)
        chunks = protocol.data_to_send() if protocol is not None else []
        if out:
            if chunks:
                out.extend(chunks)
            chunks, self._out = out, []
        if not chunks:
            return b"", False
        eof = b"" in chunks  # the protocol asks for the end of the stream with an empty chunk
        return b"".join(chunks), eof
