"""The WebSocket engine's short path agrees with the protocol's own parser, frame for frame."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from sockjs_gevent.websocket import Engine

MAX_SIZE = 4096
#: Close codes a close frame may not carry (the protocol fails the connection, 1002).
BAD_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]
#: Close codes it may carry.
GOOD_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]


def masked(opcode: Opcode, data: bytes, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin).serialize(mask=True, extensions=[])


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
    if kind == "close-empty":
        return [frame(Opcode.CLOSE, b"")]
    if kind == "close-code":
        return [frame(Opcode.CLOSE, GOOD_CLOSE_CODES[number % len(GOOD_CLOSE_CODES)].to_bytes(2, "big"))]
    if kind == "close-bad-code":
        code = BAD_CLOSE_CODES[number % len(BAD_CLOSE_CODES)]
        return [frame(Opcode.CLOSE, code.to_bytes(2, "big") + data[:60])]
    if kind == "close-short":
        return [frame(Opcode.CLOSE, bytes((number % 256,)))]
    if kind == "close-bad-utf8":
        return [frame(Opcode.CLOSE, b"\x03\xe8" + data[:60] + b"\xc3")]
    if kind == "close-mid-message":
        return [frame(Opcode.TEXT, data, fin=False), frame(Opcode.CLOSE, b"\x03\xe8")]
    if kind == "close-then-more":  # the client goes on after its close: all discarded
        code = GOOD_CLOSE_CODES[number % len(GOOD_CLOSE_CODES)]
        return [
            frame(Opcode.CLOSE, Close(code, text[:20]).serialize()),
            frame(Opcode.TEXT, data),
            b"\xff" * (number % 7),
        ]
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
CLOSING = [
    "close",
    "close-empty",
    "close-code",
    "close-bad-code",
    "close-short",
    "close-bad-utf8",
    "close-mid-message",
    "close-then-more",
]
ENDING = ["binary", "bad-utf8", "oversized", "unmasked", *CLOSING, *CLOSING]
actions = st.tuples(
    st.lists(st.tuples(st.sampled_from(GOING_ON), st.text(max_size=40), st.integers(0, 999)), max_size=12),
    st.one_of(st.none(), st.tuples(st.sampled_from(ENDING), st.text(max_size=40), st.integers(0, 999))),
).map(lambda t: t[0] + ([t[1]] if t[1] else []))


def run(engine: Engine, chunks: list[bytes]) -> list:
    """Everything the engine says: messages and output after each chunk (where there are any), then its end state.

    Every chunk is fed, then the end of the stream: after a close the
    protocol discards what comes until the end of the stream, the short
    path ignores it (its connection is over at once).
    """
    seen = []
    for i, chunk in enumerate([*chunks, b""]):
        messages = engine.feed(chunk)
        data, eof = engine.output()
        if messages or data or eof:
            seen.append((i, messages, data, eof))
    seen.append(("sent", engine.send_texts(["from the server", "é" * 200]), engine.output()))
    seen.append(("state", engine.open, engine.closed, engine.over, engine.close_code, engine.close_reason))
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


# -- the client's close on the short path ------------------------------------------------------


def test_a_client_close_never_makes_the_protocol():
    engine = Engine(None, max_size=MAX_SIZE)
    wire = masked(Opcode.TEXT, b'["a"]') + masked(Opcode.TEXT, b'["b"]') + masked(Opcode.CLOSE, b"\x03\xe8bye")
    assert engine.feed(wire + masked(Opcode.TEXT, b"after")) == ['["a"]', '["b"]']  # what came before, in order
    assert engine.output() == (b"\x88\x05\x03\xe8bye", True)  # the echo, then the end of the stream
    assert engine._protocol is None
    assert (engine.close_code, engine.close_reason) == (1000, "bye")
    assert not engine.open and engine.closed and engine.over
    assert engine.output() == (b"", False)  # once
    assert engine.feed(masked(Opcode.TEXT, b"more")) == [] and engine.feed(b"") == []
    assert not engine.send_texts(["late"]) and not engine.ping()
    engine.close(1000, "")
    engine.fail(1002, "")
    assert engine.output() == (b"", False) and engine._protocol is None
    assert (engine.close_code, engine.close_reason) == (1000, "bye")


def test_an_empty_close_is_1005_and_echoed_empty():
    engine = Engine(None, max_size=MAX_SIZE)
    assert engine.feed(masked(Opcode.CLOSE, b"")) == []
    assert engine.output() == (b"\x88\x00", True)
    assert (engine.close_code, engine.close_reason) == (1005, "") and engine.over and engine._protocol is None


def test_a_close_after_a_ping_follows_its_pong():
    engine = Engine(None, max_size=MAX_SIZE)
    assert engine.feed(masked(Opcode.PING, b"p") + masked(Opcode.CLOSE, b"\x0b\xb8")) == []
    assert engine.output() == (b"\x8a\x01p\x88\x02\x0b\xb8", True)
    assert engine.close_code == 3000 and engine.closed


@pytest.mark.parametrize(
    "payload",
    [
        b"\x03",
        b"\x03\xed",
        b"\x00\x00",
        b"\x03\xe8\xff",
        b"\x03\xe8\xed\xa0\x80",
    ],  # short, 1005, 0, bad UTF-8, a surrogate
)
def test_a_malformed_close_goes_to_the_protocol(payload):
    engine = Engine(None, max_size=MAX_SIZE)
    assert engine.feed(masked(Opcode.CLOSE, payload)) == []
    assert engine._protocol is not None and not engine._ended
    data, eof = engine.output()
    assert data[:1] == b"\x88" and data[2:4] in (b"\x03\xea", b"\x03\xef") and eof  # 1002 or 1007: failed


def _close_payloads() -> st.SearchStrategy[bytes]:
    codes = st.one_of(st.integers(0, 65535), st.sampled_from(GOOD_CLOSE_CODES + BAD_CLOSE_CODES))
    reasons = st.one_of(st.text(max_size=40).map(lambda t: t.encode("utf-8")), st.binary(max_size=40))
    coded = st.tuples(codes, reasons).map(lambda t: (t[0].to_bytes(2, "big") + t[1])[:125])
    return st.one_of(st.binary(max_size=3), coded)


@settings(max_examples=500, deadline=None)
@given(_close_payloads(), st.binary(max_size=20))
def test_any_close_frame_is_answered_as_the_protocol_answers_it(payload, after):
    wire = masked(Opcode.CLOSE, payload) + after

    def answer(engine: Engine) -> tuple:
        first = (engine.feed(wire), engine.output(), engine.close_code, engine.close_reason)
        engine.feed(b"")  # the client's end of the stream (the short path no longer reads)
        return first, engine.output(), engine.open, engine.closed, engine.over

    reference = answer(Engine(ServerProtocol(state=State.OPEN, max_size=MAX_SIZE), short_path=False))
    assert answer(Engine(None, max_size=MAX_SIZE)) == reference
    assert answer(Engine(ServerProtocol(state=State.OPEN, max_size=MAX_SIZE))) == reference
