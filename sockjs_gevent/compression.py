"""WebSocket compression (permessage-deflate, RFC 7692): its settings, checked when built.

The websockets library negotiates and does the deflating; ``Compression``
says how, and builds its extension factories: ``server_factory()`` for the
server's handshake, ``client_factory()`` for the Python client's offer.

Memory is the cost to weigh. With context takeover (the default) every
compressed connection keeps a zlib compressor and decompressor between
messages: about ``2**(server_max_window_bits+2) + 2**(mem_level+9)`` bytes
for the first and ``2**client_max_window_bits`` (plus some 7 KiB of state)
for the second, beside an idle session's ~12 KiB. Without context takeover
they exist only while a message is being (de)compressed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory

#: The extension's name in Sec-WebSocket-Extensions.
PERMESSAGE_DEFLATE = "permessage-deflate"


def _fail(message: str) -> Exception:
    from .options import OptionsError  # options imports this module: import it when needed

    return OptionsError(message)


@dataclass(frozen=True)
class Compression:
    """How the websocket transports compress, with clients that offer permessage-deflate.

    server_max_window_bits: the server's LZ77 window, 2**bits bytes, 9-15
        (zlib cannot compress with 8). Bigger compresses better and costs
        the compressor 4 times the window.
    client_max_window_bits: the window the client is asked to compress
        with, 9-15; the server's decompressor keeps one that size. A client
        that does not say it can limit its window (most do) uses 15.
    server_no_context_takeover: start every message afresh instead of
        referring back to earlier ones: less compression on small, similar
        messages, but no compressor kept between messages.
    client_no_context_takeover: ask the client to do the same, so the
        server keeps no decompressor between messages.
    compress_level: zlib's level, 1 (fastest) to 9 (smallest).
    mem_level: zlib's memLevel, 1-9: the compressor's hash tables, 2**(mem_level+9) bytes.

    The defaults (window 12 bits both ways, mem_level 5) are the websockets
    library's own: most of the ratio of 15/8 for an eighth of the memory.
    """

    server_max_window_bits: int = 12
    client_max_window_bits: int = 12
    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    compress_level: int = 6
    mem_level: int = 5

    def __post_init__(self) -> None:
        for name in ("server_max_window_bits", "client_max_window_bits"):
            _check_int(name, getattr(self, name), 9, 15, " (zlib cannot compress with an 8-bit window)")
        _check_int("compress_level", self.compress_level, 1, 9, " (1 fastest, 9 smallest)")
        _check_int("mem_level", self.mem_level, 1, 9, "")
        for name in ("server_no_context_takeover", "client_no_context_takeover"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise _fail(f"{name} must be True or False, got {value!r}")

    def server_factory(self) -> ServerPerMessageDeflateFactory:
        """The server's side of the negotiation (one factory serves every handshake)."""
        return ServerPerMessageDeflateFactory(
            server_no_context_takeover=self.server_no_context_takeover,
            client_no_context_takeover=self.client_no_context_takeover,
            server_max_window_bits=self.server_max_window_bits,
            client_max_window_bits=self.client_max_window_bits,
            compress_settings={"level": self.compress_level, "memLevel": self.mem_level},
        )

    def client_factory(self) -> ClientPerMessageDeflateFactory:
        """A client's offer asking for these settings (``client_*`` for itself, ``server_*`` of the server)."""
        return ClientPerMessageDeflateFactory(
            server_no_context_takeover=self.server_no_context_takeover,
            client_no_context_takeover=self.client_no_context_takeover,
            server_max_window_bits=self.server_max_window_bits,
            client_max_window_bits=self.client_max_window_bits,
            compress_settings={"level": self.compress_level, "memLevel": self.mem_level},
        )

    @classmethod
    def from_value(cls, value: Any, name: str = "websocket_compression") -> Compression | None:
        """The option's value as settings: None/False off, True defaults, a Compression, or a dict of its fields.

        ``name`` is what errors call the value.
        """
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(value) - known)
            if unknown:
                raise _fail(
                    f"unknown {name} setting(s) {', '.join(map(str, unknown))}; known: {', '.join(sorted(known))}"
                )
            try:
                return cls(**value)
            except ValueError as exc:
                raise _fail(f"{name}: {exc}") from None
        raise _fail(
            f"{name} must be True, False, None, a sockjs_gevent.Compression or a dict "
            f"of its settings (e.g. {{'server_no_context_takeover': True}}), got {value!r}"
        )

    @classmethod
    def parse(cls, text: str) -> Compression:
        """Settings from a command line: ``""`` for the defaults, else comma-separated items.

        Each item is ``name=value`` or a bare name for True, e.g.
        ``server_max_window_bits=10,server_no_context_takeover`` (``-`` may
        stand for ``_``).
        """
        settings: dict[str, Any] = {}
        known = {f.name: f.type for f in fields(cls)}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, raw = item.partition("=")
            name = name.strip().replace("-", "_")
            if name not in known:
                hint = (
                    " (a TARGET right after --websocket-compression is read as its settings: put TARGET first)"
                    if ":" in item
                    else ""
                )
                raise _fail(f"unknown compression setting {name!r}{hint}; known: {', '.join(known)}")
            if known[name] in ("bool", bool):
                if sep and raw.strip().lower() not in ("true", "1", "yes", "on"):
                    raise _fail(f"{name} is a flag: write it alone to turn it on, got {item!r}")
                settings[name] = True
            else:
                try:
                    settings[name] = int(raw)
                except ValueError:
                    raise _fail(f"{name} takes an int, e.g. {name}=10, got {item!r}") from None
        return cls(**settings)


def _check_int(name: str, value: Any, low: int, high: int, why: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _fail(f"{name} must be an int from {low} to {high}{why}, got {value!r}")
