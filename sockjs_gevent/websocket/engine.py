"""RFC 6455 for one server-side connection, with no I/O: bytes in, text messages out, and back.

The websockets library's sans-I/O ``ServerProtocol`` does the protocol work
(framing, masking, control frames, the close handshake, the size limit).
``Engine`` adds what a SockJS server needs on top: text messages only
(binary closes 1003, invalid UTF-8 1007) and a bound on the fragments of
one message (1009), each empty fragment otherwise costing parsing but
nothing against the size limit.
"""

from __future__ import annotations

from typing import Iterable, Optional

from websockets.exceptions import InvalidState
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

#: Most fragments one message may come in.
MAX_FRAGMENTS = 1024


class Engine:
    """One WebSocket connection's protocol state; the caller moves the bytes."""

    __slots__ = ("_protocol", "_fragments", "_fragment_opcode", "close_code", "close_reason")

    def __init__(self, protocol: ServerProtocol) -> None:
        self._protocol = protocol
        self._fragments: Optional[list[bytes]] = None
        self._fragment_opcode: Optional[Opcode] = None
        #: The close code and reason the client sent, once it did (None: it has not).
        self.close_code: Optional[int] = None
        self.close_reason = ""

    @property
    def open(self) -> bool:
        return self._protocol.state is State.OPEN

    @property
    def closed(self) -> bool:
        """The connection is over: closing handshake done, failed, or the stream ended."""
        return self._protocol.state is State.CLOSED

    def receive(self, data: bytes) -> list[str]:
        """Feed what arrived (``b""`` for the end of the stream); the complete text messages in it."""
        protocol = self._protocol
        if data:
            protocol.receive_data(data)
        else:
            protocol.receive_eof()
        messages: list[str] = []
        for frame in protocol.events_received():
            opcode = frame.opcode
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
        return messages

    def _message(self, opcode: Optional[Opcode], data: bytes, messages: list[str]) -> None:
        if opcode is Opcode.BINARY:
            self.fail(1003, "Binary messages are not supported")
            return
        try:
            messages.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            self.fail(1007, "Invalid UTF-8 in text message")

    def send_texts(self, texts: Iterable[str]) -> bool:
        """Frame text messages; False once the connection is not open."""
        protocol = self._protocol
        try:
            for text in texts:
                protocol.send_text(text.encode("utf-8"))
        except InvalidState:
            return False
        return True

    def ping(self) -> bool:
        try:
            self._protocol.send_ping(b"")
        except InvalidState:
            return False
        return True

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake (if still open)."""
        if self._protocol.state is State.OPEN:
            self._protocol.send_close(code, reason)

    def fail(self, code: int, reason: str) -> None:
        """Close at once for a protocol problem: a close frame, then the end of the stream."""
        self._protocol.fail(code, reason)

    def output(self) -> tuple[bytes, bool]:
        """What to write now, and whether to end the TCP stream after it."""
        chunks = self._protocol.data_to_send()
        if not chunks:
            return b"", False
        eof = b"" in chunks  # the protocol asks for the end of the stream with an empty chunk
        return b"".join(chunks), eof
