"""SockJS frames and payloads: pure functions, no I/O.

This is the hot path of every message, so each function does the least work
that is correct: one ``json.dumps`` per message, one regex scan that usually
finds nothing, and a single join per batch.
"""

from __future__ import annotations

import json
import json.encoder
import re
from collections.abc import Callable, Iterable
from typing import Any

OPEN_FRAME = "o"
HEARTBEAT_FRAME = "h"

#: Characters that browsers or proxies mangle; they must travel as \\uXXXX.
#: JSON itself already escapes U+0000-U+001F, so after ``json.dumps`` only
#: the remaining ranges (and lone surrogates) need a second look. (The
#: surrogates are written with chr(): a compiled build takes no surrogate in
#: a string literal.)
_ESCAPABLE = re.compile("[\u200c-\u200f\u2028-\u202f\u2060-\u206f\ufff0-\uffff" + chr(0xD800) + "-" + chr(0xDFFF) + "]")

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
#: A value as compact JSON text (what ``send_json`` sends, on connections, streams and test clients).
json_text = _dumps
#: What ``_dumps`` does with a str, called directly (the encoder's ``encode`` is Python around it).
_dumps_str: Callable[[str], str] = json.encoder.encode_basestring  # (the one ensure_ascii=False picks)
#: ``JSONDecoder().raw_decode(text)`` less its Python wrapper: (value, end), StopIteration when no value starts at 0.
_scan_once: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]  # (the stubs omit it)


def _escape_char(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def quote(message: str) -> str:
    """Encode one message as a JSON string literal with SockJS escaping."""
    encoded = _dumps_str(message)
    # isascii() reads a flag of the str (no scan): ASCII text, most of it,
    # has none of those characters; the regex scan costs about 50
    # instructions a character (4k for a 64-character message).
    if encoded.isascii() or _ESCAPABLE.search(encoded) is None:
        return encoded
    return _ESCAPABLE.sub(_escape_char, encoded)


def message_frame(quoted: Iterable[str]) -> str:
    """Build an ``a[...]`` frame from messages already passed through quote()."""
    return "a[" + ",".join(quoted) + "]"


def close_frame(code: int, reason: str) -> str:
    """Build a ``c[code,"reason"]`` frame."""
    return f"c[{code:d},{quote(reason)}]"


class PayloadError(ValueError):
    """A client payload that cannot be turned into messages.

    The string form is the exact text the protocol answers with.
    """


PAYLOAD_EXPECTED = "Payload expected."
BROKEN_JSON = "Broken JSON encoding."
NOT_UTF8 = "Broken JSON encoding: the payload is not UTF-8."


def decode_payload(body: bytes | str) -> list[str]:
    """Decode an HTTP send body: a JSON array of strings.

    Raises PayloadError with the protocol's wording for an empty body,
    bytes that are not UTF-8, JSON that does not parse, or JSON of the
    wrong shape.
    """
    if not body:
        raise PayloadError(PAYLOAD_EXPECTED)
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError(NOT_UTF8) from None
    try:
        messages = _parse_json(body)
    except (ValueError, RecursionError):  # RecursionError: "[[[[...]]]]" nested past the stack
        raise PayloadError(BROKEN_JSON) from None
    if not isinstance(messages, list):
        raise PayloadError(BROKEN_JSON)
    return _strings(messages)


def _parse_json(text: str) -> Any:
    """``json.loads(text)``, through the scanner alone when the value fills the text (as clients send it).

    The scanner skips json.loads' two whitespace scans and its Python
    wrappers; text with whitespace around the value (rare, and allowed:
    JSON permits it, as sockjs-node does) takes the full path.
    """
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:  # no value at the start: whitespace first, or not JSON
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value


def decode_websocket_message(text: str) -> list[str]:
    """Decode one SockJS websocket message: a JSON array or a single string.

    An empty message decodes to no messages. Raises PayloadError when the
    text is not JSON of that shape.
    """
    if not text:
        return []
    try:
        decoded = _parse_json(text)
    except (ValueError, RecursionError):
        raise PayloadError(BROKEN_JSON) from None
    if isinstance(decoded, list):
        for message in decoded:  # (_strings, inline)
            if not isinstance(message, str):
                raise PayloadError(BROKEN_JSON)
        return decoded
    if isinstance(decoded, str):
        return [decoded]
    raise PayloadError(BROKEN_JSON)


def _strings(messages: list[Any]) -> list[str]:
    for message in messages:
        if not isinstance(message, str):
            raise PayloadError(BROKEN_JSON)
    return messages
