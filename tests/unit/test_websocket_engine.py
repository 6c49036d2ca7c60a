"""The WebSocket engine's short path agrees with the protocol's own parser, frame for frame."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from sockjs_gevent.websocket import Engine

MAX_SIZE = 4096


def client_frame(kind: str, text: str, number: int) -> list[bytes]:
    """One client action as the bytes it puts on the wire (masked frames)."""

    def frame(opcode, data, fin=True, mask=True):
        return Frame(opcode, data, fin).serialize(mask=mask, extensions=[])

    data = text.encode("utf-8")
    if kind == "text":
        return [frame(Opcode.TEXT, data)]
    if kind == "long":
        return [frame(Opcode.TEXT, (text or "x").encode() * (70000 // max(1, len(text or "x"))))]
    if kind == "fragmented":
        third = len(data) // 3
        parts = [data[:third], data[third : 2 * third], data[2 * third :]]  # UTF-8 split anywhere: valid once joined
        return [
            frame(Opcode.TEXT, parts[0], fin=False),
            frame(Opcode.CONT, parts[1], fin=False),
            frame(Opcode.CONT, parts[2]),
        ]
    if kind == "ping":
        return [frame(Opcode.PING, data[:100])]
    if kind == "binary":
        return [frame(Opcode.BINARY, data)]
    if kind == "bad-utf8":
        return [frame(Opcode.TEXT, b"\xff\xfe" + data)]
    if kind == "close":
        return [frame(Opcode.CLOSE, Close(3000 + number % 1000, text[:20]).serialize())]
    if kind == "oversized":
        return [frame(Opcode.TEXT, b"y" * (MAX_SIZE + 1))]
    if kind == "unmasked":
        return [frame(Opcode.TEXT, data, mask=False)]
    raise AssertionError(kind)


#: Frames the connection goes on after, and those that end it (the protocol,
#: parsing a whole read at once, may act on a later frame of the same read
#: first, where the short path goes frame by frame: both end the connection,
#: so only the last action of a sequence ends it).
GOING_ON = ["text"] * 6 + ["long", "fragmented", "ping"]
ENDING = ["binary", "bad-utf8", "close", "oversized", "unmasked"]
actions = st.tuples(
    st.lists(st.tuples(st.sampled_from(GOING_ON), st.text(max_size=40), st.integers(0, 999)), max_size=12),
    st.one_of(st.none(), st.tuples(st.sampled_from(ENDING), st.text(max_size=40), st.integers(0, 999))),
).map(lambda t: t[0] + ([t[1]] if t[1] else []))


def run(engine: Engine, chunks: list[bytes]) -> list:
    """Everything the engine says: messages and output after each chunk, then its end state."""
    seen = []
    for chunk in [*chunks, b""]:
        seen.append(("messages", engine.feed(chunk)))
        seen.append(("output", engine.output()))
        if engine.closed:
            break
    seen.append(("sent", engine.send_texts(["from the server", "é" * 200]), engine.output()))
    seen.append(("state", engine.open, engine.closed, engine.close_code, engine.close_reason))
    return seen


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions, st.lists(st.integers(1, 300), min_size=1, max_size=20))
def test_the_short_path_says_exactly_what_the_protocol_says(steps, cuts):
    wire = b"".join(b"".join(client_frame(kind, text, n)) for kind, text, n in steps)
    chunks, pos, i = [], 0, 0
    while pos < len(wire):  # the same wire, cut into reads of random sizes
        size = cuts[i % len(cuts)] * (1 + (i % 3) * 40)
        chunks.append(wire[pos : pos + size])
        pos += size
        i += 1

    def engine(short_path: bool) -> Engine:
        return Engine(ServerProtocol(state=State.OPEN, max_size=MAX_SIZE), short_path=short_path)

    reference = run(engine(False), chunks)
    assert run(engine(True), chunks) == reference
    assert run(Engine(None, max_size=MAX_SIZE), chunks) == reference  # the protocol made when a frame needs it


def test_the_common_frame_takes_the_short_path():
    engine = Engine(ServerProtocol(state=State.OPEN, max_size=MAX_SIZE))
    wire = Frame(Opcode.TEXT, b'["hi"]').serialize(mask=True, extensions=[])
    assert engine.feed(wire[:3]) == [] and engine.feed(wire[3:]) == ['["hi"]']
    assert engine.send_texts(['a["hi"]']) and engine.output() == (b'\x81\x07a["hi"]', False)
    assert not engine._protocol_only


def test_plain_text_both_ways_never_makes_the_protocol():
    engine = Engine(None, max_size=MAX_SIZE)
    for n in range(3):
        wire = Frame(Opcode.TEXT, f'["{n}"]'.encode()).serialize(mask=True, extensions=[])
        assert engine.feed(wire) == [f'["{n}"]']
        assert engine.send_texts([f'a["{n}"]']) and engine.output()[0].endswith(f'a["{n}"]'.encode())
    assert engine._protocol is None and engine.open and not engine.closed and not engine.over
    ping = Frame(Opcode.PING, b"p").serialize(mask=True, extensions=[])
    assert engine.feed(ping) == [] and engine.output() == (b"\x8a\x01p", False)  # the pong, from the protocol
    assert engine._protocol is not None


def test_a_lazy_engine_closes_like_any_other():
    engine = Engine(None, max_size=MAX_SIZE)
    engine.close(1000, "bye")
    data, eof = engine.output()
    assert data == b"\x88\x05\x03\xe8bye" and not eof
    closing = Frame(Opcode.CLOSE, Close(1000, "").serialize()).serialize(mask=True, extensions=[])
    assert engine.feed(closing) == [] and engine.close_code == 1000
    assert engine.output() == (b"", True)  # the handshake is done: the server ends the TCP stream
    assert engine.feed(b"") == [] and engine.closed
