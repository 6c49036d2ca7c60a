"""The websocket-multiplex wire format (docs/protocol.md section 12): pure functions, no gevent.

Each SockJS message of a multiplexed connection is one of::

    sub,NAME            client -> server: open stream NAME
    msg,NAME,PAYLOAD    either way: PAYLOAD (any text, commas included) for NAME
    uns,NAME            client -> server: close NAME; server -> client: NAME is closed

This is the format of npm ``websocket-multiplex`` 0.1.0 and its browser
client ``multiplex_client.js``. A message is split on its first two commas
only, so a payload may hold commas. Names on the wire are what the client's
``multiplexer.channel(name)`` makes of a name with JavaScript's ``escape()``
(``wire_name`` here), so they never contain a comma: ``"my chat"`` travels
as ``my%20chat``.

``parse`` is strict where the reference server silently guesses: a message
of an unknown kind, with no name, a ``msg`` without its payload field, or a
``sub``/``uns`` with a third field is a ``FramingError``.
"""

from __future__ import annotations

from typing import NamedTuple

SUB = "sub"
MSG = "msg"
UNS = "uns"
KINDS = (SUB, MSG, UNS)

#: Characters JavaScript's escape() leaves as they are.
_UNESCAPED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@*_+-./")


class FramingError(ValueError):
    """A message that is not ``sub,NAME``, ``msg,NAME,PAYLOAD`` or ``uns,NAME``."""


class Frame(NamedTuple):
    """One parsed message: its kind, the stream's wire name, and (``msg`` only) the payload."""

    kind: str
    name: str
    payload: str | None = None


def parse(message: str) -> Frame:
    """Parse one incoming message; raises FramingError if it is malformed."""
    kind, comma, rest = message.partition(",")
    if not comma:
        raise FramingError(f"no stream name (no comma) in {_preview(message)}")
    if kind not in KINDS:
        raise FramingError(f"unknown kind {_preview(kind)}: expected sub, msg or uns")
    name, comma, payload = rest.partition(",")
    if not name:
        raise FramingError(f"empty stream name in {_preview(message)}")
    if kind == MSG:
        if not comma:
            raise FramingError(f"msg without a payload field in {_preview(message)} (an empty payload is 'msg,NAME,')")
        return Frame(MSG, name, payload)
    if comma:
        raise FramingError(f"{kind} takes a name only, got a third field in {_preview(message)}")
    return Frame(kind, name)


def encode_sub(name: str) -> str:
    """``sub,NAME`` (what a client sends to open a stream)."""
    return SUB + "," + _checked(name)


def encode_msg(name: str, payload: str) -> str:
    """``msg,NAME,PAYLOAD``."""
    if not isinstance(payload, str):
        raise TypeError(f"payloads are text, got {type(payload).__name__}")
    return MSG + "," + _checked(name) + "," + payload


def encode_uns(name: str) -> str:
    """``uns,NAME``."""
    return UNS + "," + _checked(name)


def wire_name(name: str) -> str:
    """``name`` as the browser client puts it on the wire: JavaScript's ``escape(name)``.

    Letters, digits and ``@*_+-./`` stay; every other UTF-16 code unit
    becomes ``%XX`` (below 256) or ``%uXXXX``, hex in capitals. So the
    server finds the stream a page asked for with ``channel("my chat")``
    under ``my%20chat``, and no wire name contains a comma.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"stream names are non-empty strings, got {name!r}")
    out = []
    for char in name:
        if char in _UNESCAPED:
            out.append(char)
            continue
        code = ord(char)
        if code < 0x100:
            out.append(f"%{code:02X}")
        elif code < 0x10000:
            out.append(f"%u{code:04X}")
        else:  # JavaScript strings are UTF-16: a surrogate pair, escaped unit by unit
            code -= 0x10000
            out.append(f"%u{0xD800 + (code >> 10):04X}%u{0xDC00 + (code & 0x3FF):04X}")
    return "".join(out)


def _checked(name: str) -> str:
    if not isinstance(name, str) or not name or "," in name:
        raise ValueError(f"a wire name is a non-empty string without commas (see wire_name), got {name!r}")
    return name


def _preview(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")
