"""The frame encoder and the payload decoders (pure functions)."""

import json

import pytest

from sockjs_gevent import protocol
from sockjs_gevent.protocol import (
    PayloadError,
    close_frame,
    decode_payload,
    decode_websocket_message,
    message_frame,
    quote,
)

ESCAPED_RANGES = [
    (0x0000, 0x001F),
    (0x200C, 0x200F),
    (0x2028, 0x202F),
    (0x2060, 0x206F),
    (0xFFF0, 0xFFFF),
    (0xD800, 0xDFFF),
]


def must_escape(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in ESCAPED_RANGES)


def utf16(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def test_quote_plain_text_is_json():
    assert quote("hello") == '"hello"'
    assert quote('a"b\\c') == '"a\\"b\\\\c"'


def test_quote_keeps_ordinary_unicode_unescaped():
    assert quote("żółć ☃ 😀") == '"żółć ☃ 😀"'


@pytest.mark.parametrize("cp", [0x00, 0x1F, 0x200C, 0x2028, 0x2029, 0x2060, 0x206F, 0xFFF0, 0xFFFF, 0xD800, 0xDFFF])
def test_quote_escapes_the_dangerous_ranges(cp):
    encoded = quote(chr(cp))
    assert encoded.lower() == f'"\\u{cp:04x}"'
    assert json.loads(encoded) == chr(cp)


def test_quote_over_every_code_point_round_trips_and_escapes_exactly_the_ranges():
    everything = "".join(chr(cp) for cp in range(0x10000))
    encoded = quote(everything)
    encoded.encode("utf-8")  # no lone surrogate survives unescaped
    # JSON joins an escaped high+low surrogate into one astral character; in
    # UTF-16 (what JavaScript holds) that is the very same string.
    assert utf16(json.loads(encoded)) == utf16(everything)
    for cp in range(0x10000):
        if must_escape(cp):
            assert chr(cp) not in encoded, hex(cp)


def test_message_frame_joins_quoted_messages():
    assert message_frame([quote("a"), quote("b")]) == 'a["a","b"]'


def test_close_frame():
    assert close_frame(3000, "Go away!") == 'c[3000,"Go away!"]'
    assert close_frame(2010, "Another connection still open") == 'c[2010,"Another connection still open"]'


@pytest.mark.parametrize(
    "body, expected",
    [
        (b'["a","b"]', ["a", "b"]),
        (b"[]", []),
        ('["\\u2028x"]', ["\u2028x"]),
        ('["\\ud800"]', ["\ud800"]),
        (b' ["a"] ', ["a"]),  # whitespace around the value: json.loads' path, as before
        (b'\n["a",\t"b"]\r\n', ["a", "b"]),
    ],
)
def test_decode_payload(body, expected):
    assert decode_payload(body) == expected


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", protocol.PAYLOAD_EXPECTED),
        (b'["a', protocol.BROKEN_JSON),
        (b'["a"]x', protocol.BROKEN_JSON),  # (the scanner stops at "]": what follows is not ignored)
        (b'["a"] ["b"]', protocol.BROKEN_JSON),
        ('\ufeff["a"]'.encode(), protocol.BROKEN_JSON),  # a byte order mark, as json.loads refuses it
        (b"   ", protocol.BROKEN_JSON),
        (b'{"a": 1}', protocol.BROKEN_JSON),
        (b'"a"', protocol.BROKEN_JSON),
        (b"[1, 2]", protocol.BROKEN_JSON),
        (b'["\xff"]', protocol.NOT_UTF8),
    ],
)
def test_decode_payload_errors_use_the_protocol_wording(body, message):
    with pytest.raises(PayloadError) as info:
        decode_payload(body)
    assert str(info.value) == message


def test_decode_websocket_message_accepts_array_or_single_string():
    assert decode_websocket_message('["a","b"]') == ["a", "b"]
    assert decode_websocket_message('"a"') == ["a"]
    assert decode_websocket_message("") == []
    assert decode_websocket_message("[]") == []


@pytest.mark.parametrize("text", [' ["a"]', '\t\n"a"', '["a"] ', ' "a" \r\n'])
def test_decode_websocket_message_allows_whitespace_around_the_json(text):
    """JSON allows it, and sockjs-node takes it: leading whitespace was refused as broken JSON."""
    assert decode_websocket_message(text) == ["a"]


@pytest.mark.parametrize("text", ['["a', "{}", "1", "[null]", " ", " x", ' ["a"', "[" * 100_000])
def test_decode_websocket_message_rejects_other_shapes(text):
    with pytest.raises(PayloadError):
        decode_websocket_message(text)
