"""docs/protocol.md section 2: JSON encoding of outgoing messages, over all 65,536 code points."""

import json
import re

from websockets.sync.client import connect

from testkit.rawhttp import request
from testkit.sockjshttp import new_sid, poll, send, session_path

RANGES = [(0x0000, 0x001F), (0x200C, 0x200F), (0x2028, 0x202F), (0x2060, 0x206F), (0xFFF0, 0xFFFF), (0xD800, 0xDFFF)]
MUST_ESCAPE = {cp for lo, hi in RANGES for cp in range(lo, hi + 1)}
SHORT_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "/": "/"}


def every_code_point() -> str:
    """All of U+0000-U+FFFF once, lone surrogates included. Low surrogates come
    before high ones so that no high surrogate is followed by a low one (which
    JSON would read back as one astral character)."""
    order = [*range(0xD800), *range(0xDC00, 0xE000), *range(0xD800, 0xDC00), *range(0xE000, 0x10000)]
    return "".join(map(chr, order))


def scan_json_string(text: str, start: int) -> tuple[list[tuple[str, str]], int]:
    """Walk one JSON string literal at ``text[start] == '"'``: the list of
    (character, how it was written) and the index after the closing quote."""
    assert text[start] == '"'
    out = []
    i = start + 1
    while text[i] != '"':
        if text[i] == "\\":
            kind = text[i + 1]
            if kind == "u":
                out.append((chr(int(text[i + 2 : i + 6], 16)), "u"))
                i += 6
            else:
                out.append((SHORT_ESCAPES[kind], "short"))
                i += 2
        else:
            out.append((text[i], "raw"))
            i += 1
    return out, i + 1


def check_escaping(frame_bytes: bytes, message: str) -> None:
    text = frame_bytes.decode("utf-8")  # strict: fails on any unescaped lone surrogate
    assert text.startswith('a["') and text.endswith('"]'), text[:20]
    chars, end = scan_json_string(text, 2)
    assert text[end:] == "]"
    unescaped = []
    for char, how in chars:
        cp = ord(char)
        if cp in MUST_ESCAPE and how == "raw":
            unescaped.append(cp)
        elif 0x20 <= cp and cp in MUST_ESCAPE:
            assert how == "u", hex(cp)  # \uXXXX, not a short escape
    assert not unescaped, "sent raw: " + " ".join(f"U+{cp:04X}" for cp in unescaped[:20])
    assert json.loads(text[1:]) == [message]


def test_every_code_point_round_trips_and_dangerous_ones_are_escaped_over_xhr(server):
    """Control characters may use JSON's short escapes (\\n, \\t, ...); all other
    characters of the ranges must be written as \\uXXXX."""
    message = every_code_point()
    sid = new_sid()
    assert poll(server, "/echo", sid)[1] == "o"
    body = ("[" + json.dumps(message, ensure_ascii=True) + "]").encode("ascii")
    r = request(server, "POST", session_path("/echo", sid, "xhr_send"), body, {"Content-Type": "text/plain"})
    assert r.status == 204, r.body
    r = request(server, "POST", session_path("/echo", sid, "xhr"), b"")
    assert r.body.endswith(b"\n")
    check_escaping(r.body[:-1], message)


def test_every_code_point_round_trips_and_dangerous_ones_are_escaped_over_websocket(server):
    message = every_code_point()
    url = f"ws://{server.host}:{server.port}/echo/000/{new_sid()}/websocket"
    with connect(url, open_timeout=5, max_size=None) as ws:
        assert ws.recv(timeout=5) == "o"
        ws.send("[" + json.dumps(message, ensure_ascii=True) + "]")
        frame = ws.recv(timeout=10, decode=False)
    check_escaping(frame, message)


def test_unescaped_utf8_from_client_comes_back_equal(server):
    """Client text sent as plain UTF-8 (not escaped) is decoded and echoed equal."""
    message = "żółw \U0001f422 日本 \u00e9\u0301 end"
    sid = new_sid()
    assert poll(server, "/echo", sid)[1] == "o"
    body = json.dumps([message], ensure_ascii=False).encode("utf-8")
    assert request(server, "POST", session_path("/echo", sid, "xhr_send"), body).status == 204
    _, frame = poll(server, "/echo", sid)
    assert json.loads(frame[1:]) == [message]


def test_escaping_also_applies_inside_jsonp_and_eventsource_frames(server):
    """A U+2028 must never reach a script or stream unescaped."""
    from testkit.sockjsstream import Receiver

    sid = new_sid()
    assert poll(server, "/echo", sid, "jsonp")[1] == "o"
    send(server, "/echo", sid, ["a\u2028b\ufff0"])
    r, frame = poll(server, "/echo", sid, "jsonp")
    assert "\u2028".encode() not in r.body and "\ufff0".encode() not in r.body
    assert json.loads(frame[1:]) == ["a\u2028b\ufff0"]
    with Receiver(server, "/echo", sid, "eventsource") as rx:
        send(server, "/echo", sid, ["c\u2029d"])
        frame = rx.frame()
        assert "\u2029".encode() not in rx.raw.body
        assert re.search(rb"\\u2029", rx.raw.body, re.I)
        assert json.loads(frame[1:]) == ["c\u2029d"]
