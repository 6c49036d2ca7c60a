"""permessage-deflate through the engine, in memory: negotiation, both directions, the limits.

A sans-I/O websockets client stands on the other side: its handshake
request goes to the server's protocol as ``accept()`` builds it, the
server's answer back to it, then frames travel between the two as bytes.
"""

from __future__ import annotations

import io
import tracemalloc
import zlib

import pytest
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Close, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from sockjs_gevent import Compression
from sockjs_gevent.websocket import Engine, accept
from sockjs_gevent.websocket.engine import MAX_FRAGMENTS
from testkit.wsframe import encode, frame_at

MAX_SIZE = 64 * 1024
TEXT = '["' + "the same JSON message, again and again; " * 5 + '"]'


class Pair:
    """An engine as ``accept()`` makes one, and a client that did the handshake with it."""

    def __init__(self, compression: Compression | None, offer: ClientPerMessageDeflateFactory | None) -> None:
        self.client = ClientProtocol(
            parse_uri("ws://127.0.0.1/echo/websocket"), extensions=[offer] if offer is not None else None, max_size=None
        )
        request = self.client.connect()
        self.client.send_request(request)
        extensions = [compression.server_factory()] if compression is not None else None
        protocol = ServerProtocol(state=State.OPEN, max_size=MAX_SIZE, extensions=extensions)
        self.response = protocol.accept(request)
        assert self.response.status_code == 101
        self.client.receive_data(self.response.serialize())
        assert self.client.state is State.OPEN, self.client.handshake_exc
        self.client.events_received()  # the response
        self.client.data_to_send()  # the request's bytes: the server got it already
        self.engine = Engine(protocol)
        self.wire: list[bytes] = []  # what the server wrote, as it wrote it

    @property
    def agreed(self) -> str | None:
        return self.response.headers.get("Sec-WebSocket-Extensions")

    def client_sends(self, *texts: str) -> list[str]:
        """The client sends; what the engine made of it."""
        for text in texts:
            self.client.send_text(text.encode())
        return self.engine.feed(b"".join(self.client.data_to_send()))

    def server_sends(self, *texts: str) -> list[str]:
        """The engine sends; what the client made of it (the raw bytes kept in ``wire``)."""
        assert self.engine.send_texts(texts)
        data, _ = self.engine.output()
        self.wire.append(data)
        self.client.receive_data(data)
        return [frame.data.decode() for frame in self.client.events_received()]

    def server_frames(self, data: bytes) -> list[tuple[int, bytes]]:
        """Server bytes as (first byte, payload as on the wire), extensions not applied."""
        frames, at = [], 0
        while at < len(data):
            frame = frame_at(data, at)
            assert frame is not None, f"a server frame cut short: {data[at:]!r}"
            first, payload, at, _ = frame
            frames.append((first, payload))
        return frames


def client_frame(opcode: Opcode, payload: bytes, fin: bool = True, rsv1: bool = False) -> bytes:
    """One masked client frame, built by hand: websockets will not serialize reserved bits."""
    return encode(payload, opcode.value, fin=fin, rsv1=rsv1)


def test_off_by_default_even_when_the_client_offers():
    pair = Pair(None, ClientPerMessageDeflateFactory())
    assert pair.agreed is None and not pair.engine.compressed
    assert pair.client_sends(TEXT) == [TEXT] and pair.server_sends(TEXT) == [TEXT]
    assert not pair.engine._protocol_only  # the short path serves it


def test_agreed_when_on_and_offered():
    pair = Pair(Compression(), ClientPerMessageDeflateFactory())
    assert pair.agreed == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    assert pair.engine.compressed and pair.engine._protocol_only
    assert pair.client_sends(TEXT, "é ☃ 😀") == [TEXT, "é ☃ 😀"]
    assert pair.server_sends(TEXT) == [TEXT]
    ((first, payload),) = pair.server_frames(pair.wire[0])
    assert first == 0xC1  # final text frame, RSV1: compressed
    assert len(payload) < len(TEXT) / 2


def test_a_client_that_does_not_offer_gets_a_plain_connection():
    pair = Pair(Compression(), None)
    assert pair.agreed is None and not pair.engine.compressed and not pair.engine._protocol_only
    assert pair.client_sends(TEXT) == [TEXT] and pair.server_sends(TEXT) == [TEXT]
    assert pair.server_frames(pair.wire[0]) == [(0x81, TEXT.encode())]


def test_an_uncompressed_message_on_a_compressed_connection_is_fine():
    pair = Pair(Compression(), ClientPerMessageDeflateFactory())
    plain = client_frame(Opcode.TEXT, b'["plain"]')  # RSV1 clear: not compressed
    assert pair.engine.feed(plain) == ['["plain"]']


def test_context_takeover_makes_repeats_cheap():
    pair = Pair(Compression(), ClientPerMessageDeflateFactory())
    pair.server_sends(TEXT)
    pair.server_sends(TEXT)
    (_, first), (_, second) = (pair.server_frames(data)[0] for data in pair.wire)
    assert len(second) < len(first) / 3  # the second refers back to the first


def test_no_context_takeover_is_honoured_both_ways():
    pair = Pair(
        Compression(server_no_context_takeover=True, client_no_context_takeover=True), ClientPerMessageDeflateFactory()
    )
    assert "server_no_context_takeover" in pair.agreed and "client_no_context_takeover" in pair.agreed
    pair.server_sends(TEXT)
    pair.server_sends(TEXT)
    (_, first), (_, second) = (pair.server_frames(data)[0] for data in pair.wire)
    assert first == second  # each message starts afresh
    (client_side,) = pair.client.extensions
    assert client_side.local_no_context_takeover  # the client was told to start afresh too
    assert pair.client_sends(TEXT, TEXT) == [TEXT, TEXT]
    (server_side,) = pair.engine._protocol.extensions
    # Nothing zlib kept between messages: no compressor, no decompressor.
    assert not hasattr(server_side, "encoder") and not hasattr(server_side, "decoder")


def test_window_bits_are_asked_of_the_client():
    pair = Pair(Compression(server_max_window_bits=9, client_max_window_bits=10), ClientPerMessageDeflateFactory())
    assert pair.agreed == "permessage-deflate; server_max_window_bits=9; client_max_window_bits=10"
    (server_side,) = pair.engine._protocol.extensions
    assert (server_side.local_max_window_bits, server_side.remote_max_window_bits) == (9, 10)
    assert pair.client_sends(TEXT * 50) == [TEXT * 50] and pair.server_sends(TEXT * 50) == [TEXT * 50]


# -- hostile input ------------------------------------------------------------------------


def deflate(chunks, sync: bool = True) -> bytes:
    """Raw deflate of ``chunks`` (an iterable of bytes), as permessage-deflate frames carry it."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -9)
    out = b"".join(compressor.compress(chunk) for chunk in chunks) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4] if sync else out  # the 00 00 ff ff tail goes, as RFC 7692 says


def close_code(engine: Engine) -> int:
    data, _ = engine.output()
    assert data[0] == 0x88, data[:10]  # a close frame
    return Close.parse(data[2 : 2 + data[1]]).code


def test_a_decompression_bomb_closes_1009_without_inflating_it():
    """A 50 KiB frame (under max_size) that inflates to 50 MiB: refused at max_size, never allocated."""
    pair = Pair(Compression(), ClientPerMessageDeflateFactory())
    bomb = deflate(b"a" * (1 << 20) for _ in range(50))
    assert len(bomb) < MAX_SIZE
    wire = client_frame(Opcode.TEXT, bomb, rsv1=True)
    tracemalloc.start()
    try:
        assert pair.engine.feed(wire) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MAX_SIZE + 2 * len(wire), peak
    assert close_code(pair.engine) == 1009


def test_a_bomb_in_fragments_is_bounded_by_the_whole_message():
    """Each fragment inflates within max_size; together they pass it: 1009."""
    pair = Pair(Compression(), ClientPerMessageDeflateFactory())
    compressor = zlib.compressobj(9, zlib.DEFLATED, -9)
    wire = b""
    for i in range(8):
        piece = compressor.compress(b"b" * (MAX_SIZE // 4)) + compressor.flush(zlib.Z_SYNC_FLUSH)
        wire += client_frame(Opcode.TEXT if i == 0 else Opcode.CONT, piece, fin=False, rsv1=i == 0)
    assert len(wire) < MAX_SIZE // 4
    assert pair.engine.feed(wire) == []
    assert close_code(pair.engine) == 1009


@pytest.mark.parametrize("extra", [0, 1])
def test_the_limit_is_on_the_inflated_size_exactly(extra):
    pair = Pair(Compression(), ClientPerMessageDeflateFactory())
    text = b"c" * (MAX_SIZE + extra)
    wire = client_frame(Opcode.TEXT, deflate([text]), rsv1=True)
    if extra:
        assert pair.engine.feed(wire) == [] and close_code(pair.engine) == 1009
    else:
        assert pair.engine.feed(wire) == [text.decode()]


def test_many_fragments_still_close_1009_when_compressed():
    pair = Pair(Compression(), ClientPerMessageDeflateFactory())
    compressor = zlib.compressobj(9, zlib.DEFLATED, -9)
    first = compressor.compress(b"[") + compressor.flush(zlib.Z_SYNC_FLUSH)
    wire = [client_frame(Opcode.TEXT, first, fin=False, rsv1=True)]
    empty = client_frame(Opcode.CONT, b"", fin=False)
    wire += [empty] * MAX_FRAGMENTS
    assert pair.engine.feed(b"".join(wire)) == []
    assert close_code(pair.engine) == 1009


@pytest.mark.parametrize(
    "compression, first, opcode, code",
    [
        (None, 0xC1, "text", 1002),  # RSV1 without the extension agreed
        (Compression(), 0xA1, "text", 1002),  # RSV2: no extension uses it
        (Compression(), 0xC9, "ping", 1002),  # RSV1 on a control frame
    ],
)
def test_reserved_bits_that_mean_nothing_close_1002(compression, first, opcode, code):
    offer = ClientPerMessageDeflateFactory() if compression is not None else None
    pair = Pair(compression, offer)
    payload = deflate([b'["x"]'])
    wire = bytes((first, 0x80 | len(payload))) + b"\0\0\0\0" + payload  # masked with zeros
    assert pair.engine.feed(wire) == []
    assert close_code(pair.engine) == code


def test_rsv1_on_a_continuation_frame_closes_1002():
    pair = Pair(Compression(), ClientPerMessageDeflateFactory())
    part = deflate([b'["x'])
    wire = client_frame(Opcode.TEXT, part, fin=False, rsv1=True) + client_frame(
        Opcode.CONT, b"\x00", fin=True, rsv1=True
    )
    assert pair.engine.feed(wire) == []
    assert close_code(pair.engine) == 1002


def test_garbage_that_does_not_inflate_closes_1002():
    pair = Pair(Compression(), ClientPerMessageDeflateFactory())
    wire = client_frame(Opcode.TEXT, b"\xff\xff\xff\xff not deflate", rsv1=True)
    assert pair.engine.feed(wire) == []
    assert close_code(pair.engine) == 1002


# -- accept(), as the transports call it -------------------------------------------------


def upgrade_environ(extensions: str | None) -> dict:
    environ = {
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": "/echo/websocket",
        "wsgi.input": io.BytesIO(),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
    }
    if extensions is not None:
        environ["HTTP_SEC_WEBSOCKET_EXTENSIONS"] = extensions
    return environ


@pytest.mark.parametrize(
    "compression, offer, agreed",
    [
        (
            Compression(),
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        ),
        (
            Compression(server_no_context_takeover=True),
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12",
        ),
        (Compression(), None, None),
        (None, "permessage-deflate; client_max_window_bits", None),
        (Compression(), "x-webkit-deflate-frame", None),
    ],
)
def test_accept_answers_the_offer(compression, offer, agreed):
    answered = []

    def start_response(status, headers):
        answered.append((status, dict(headers)))
        return lambda data: None

    handshake = accept(upgrade_environ(offer), start_response, MAX_SIZE, compression)
    ((status, headers),) = answered
    assert status.startswith("101")
    assert headers.get("Sec-WebSocket-Extensions") == agreed
    assert handshake.websocket.compressed == (agreed is not None)
