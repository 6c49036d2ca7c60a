"""permessage-deflate (RFC 7692) over a real socket, against the test server with --websocket-compression.

Frames are written and read by hand here (zlib on this side), so what the
server puts on the wire is checked byte for byte: the agreed header, RSV1
on its frames, what a bomb does to it.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from testkit.rawhttp import Raw
from testkit.rawws import ws_recv_frame
from testkit.serverproc import RunningServer
from testkit.sockjshttp import alive, new_sid
from testkit.wsframe import RSV1, accept_token, encode, handshake_headers, new_key
from tests.both_servers import start

#: The test server's max_message_size (the option's default).
MAX_MESSAGE_SIZE = 1024 * 1024
TIMEOUT = 5.0


@pytest.fixture(scope="module")
def deflate_server(server_kind: str) -> Iterator[RunningServer]:
    """The test server with websocket_compression on, on each HTTP server kind."""
    running = start(server_kind, "--websocket-compression")
    yield running
    running.stop()


class Deflating:
    """A hand-made WebSocket client: its upgrade, its frames, and zlib for both directions."""

    def __init__(self, server: RunningServer, path: str, offer: str | None) -> None:
        key = new_key()
        self.raw = Raw(server)
        headers = handshake_headers(key)
        if offer is not None:
            headers.append(("Sec-WebSocket-Extensions", offer))
        self.raw.send_request("GET", path, headers)
        self.head = self.raw.read_head()
        assert self.head.status == 101, (self.head.status, self.head.headers)
        assert self.head.header("Sec-WebSocket-Accept") == accept_token(key)
        self.agreed = self.head.header("Sec-WebSocket-Extensions")
        self.inflate = zlib.decompressobj(-15)
        self.deflate = zlib.compressobj(6, zlib.DEFLATED, -12)

    def send(self, payload: bytes, compress: bool = True) -> None:
        """One text message, compressed (RSV1) by default."""
        self.send_frame(self.compress(payload) if compress else payload, rsv1=compress)

    def send_frame(self, payload: bytes, rsv1: bool) -> None:
        """One final, masked text frame carrying ``payload`` as it is."""
        self.raw.send(encode(payload, rsv1=rsv1))

    def compress(self, payload: bytes) -> bytes:
        return (self.deflate.compress(payload) + self.deflate.flush(zlib.Z_SYNC_FLUSH))[:-4]

    def recv(self) -> tuple[int, bytes, bytes]:
        """One server frame: (first byte, payload as on the wire, payload inflated if RSV1)."""
        first, wire = ws_recv_frame(self.raw, TIMEOUT)
        data = self.inflate.decompress(wire + b"\x00\x00\xff\xff") if first & RSV1 else wire
        return first, wire, data

    def close(self) -> None:
        self.raw.sock.close()


def sockjs_path(prefix: str = "/echo") -> str:
    return f"{prefix}/000/{new_sid()}/websocket"


def test_agreed_and_every_server_frame_is_compressed(deflate_server):
    ws = Deflating(deflate_server, sockjs_path(), "permessage-deflate; client_max_window_bits")
    try:
        assert ws.agreed == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
        first, _, data = ws.recv()
        assert (first, data) == (0xC1, b"o")  # final text frame, RSV1 set
        message = json.dumps(["a message " * 100]).encode()
        ws.send(message)
        first, wire, data = ws.recv()
        assert first == 0xC1 and data == b"a" + message
        assert len(wire) < len(data) / 10
        ws.send(message, compress=False)  # a client may send a message uncompressed
        assert ws.recv()[2] == b"a" + message
    finally:
        ws.close()


def test_the_raw_endpoint_too(deflate_server):
    ws = Deflating(deflate_server, "/echo/websocket", "permessage-deflate")
    try:
        assert ws.agreed.startswith("permessage-deflate")
        ws.send("é ☃ 😀 ".encode() * 200)
        first, _, data = ws.recv()
        assert first == 0xC1 and data == "é ☃ 😀 ".encode() * 200
    finally:
        ws.close()


def test_a_client_that_does_not_offer_gets_plain_frames(deflate_server):
    ws = Deflating(deflate_server, sockjs_path(), None)
    try:
        assert ws.agreed is None
        assert ws.recv()[:2] == (0x81, b"o")
        ws.send(b'["plain"]', compress=False)
        assert ws.recv()[:2] == (0x81, b'a["plain"]')
    finally:
        ws.close()


def test_a_decompression_bomb_closes_1009_and_the_server_goes_on(deflate_server):
    """A ~100 KiB frame that would inflate to 100 MiB, a hundred times max_message_size."""
    ws = Deflating(deflate_server, "/echo/websocket", "permessage-deflate")
    try:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -12)
        bomb = b"".join(compressor.compress(b"[" * (1 << 20)) for _ in range(100))
        bomb += compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]
        assert len(bomb) < MAX_MESSAGE_SIZE
        ws.send_frame(bomb, rsv1=True)
        frames = []
        with pytest.raises(ConnectionError):
            while True:
                frames.append(ws.recv())
        assert frames and frames[-1][0] == 0x88, frames
        assert int.from_bytes(frames[-1][1][:2], "big") == 1009
    finally:
        ws.close()
    alive(deflate_server)
    with connect(f"ws://{deflate_server.host}:{deflate_server.port}/echo/websocket") as again:
        again.send("still here")
        assert again.recv(timeout=TIMEOUT) == "still here"


def test_big_messages_both_ways_with_a_library_client(deflate_server):
    """websockets' own client (which offers permessage-deflate) against both endpoints."""
    base = f"ws://{deflate_server.host}:{deflate_server.port}"
    big = "0123456789abcdef" * (MAX_MESSAGE_SIZE // 64)
    with connect(f"{base}/echo/websocket", max_size=None) as ws:
        assert ws.protocol.extensions, ws.response.headers
        ws.send(big)
        assert ws.recv(timeout=TIMEOUT) == big
    with connect(f"{base}{sockjs_path('/amplify')}", max_size=None) as ws:
        assert ws.recv(timeout=TIMEOUT) == "o"
        ws.send('["18"]')
        assert ws.recv(timeout=TIMEOUT) == 'a["' + "x" * 2**18 + '"]'
