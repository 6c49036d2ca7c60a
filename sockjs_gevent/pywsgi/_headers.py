"""A fast, strict request-header reader for gevent's pywsgi handler.

pywsgi parses headers with ``http.client.parse_headers``, which runs the
``email`` package's feed parser: about a sixth of the server's time on a
polling round trip. SockJS requests carry a handful of plain headers, so
``Headers.read`` splits the lines itself and gives pywsgi the same
interface (``get``, ``getheader``, ``headers``, ``typeheader``, ``status``,
``del``).

It is strict where leniency lets a request be read two ways (request
smuggling through a proxy) or carries junk into the app: a header block
over ``MAX_HEAD`` bytes (431), more than ``MAX_HEADERS`` lines (431),
folded (obsolete continuation) lines, control characters in a value,
a Content-Length that is not plain digits or appears twice, and any
Transfer-Encoding but ``chunked`` or beside a Content-Length (400).
``status`` says why; ``status_code`` is the answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol

MAX_LINE = 16 * 1024  # one line may take the whole head
#: The whole header block, as Node's default (--max-http-header-size).
MAX_HEAD = 16 * 1024
MAX_HEADERS = 100

HEAD_TOO_LARGE = "Request header fields too large"
#: Field names are tokens (RFC 9110 section 5.6.2).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Control characters other than tab may not appear in a field value.
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]+")


class _LineReader(Protocol):
    """What ``Headers.read`` needs of the connection's stream."""

    def readline(self, size: int = -1, /) -> bytes: ...


class Headers:
    """Request headers in arrival order, looked up without regard to case."""

    __slots__ = ("_items", "_index", "status")

    def __init__(self) -> None:
        self._items: list[tuple[str, str]] = []
        self._index: dict[str, str] = {}  # lower-case name -> first value
        #: Empty, or why the headers are invalid (pywsgi answers 400, or ``status_code``).
        self.status = ""

    @property
    def status_code(self) -> int:
        """The answer to a bad header block: 431 when it is too big, else 400."""
        return 431 if self.status == HEAD_TOO_LARGE else 400

    @classmethod
    def read(cls, rfile: _LineReader, *_: object) -> Headers:
        """Read header lines up to the empty line that ends them."""
        headers = cls()
        items = headers._items
        size = 0
        while True:
            line = rfile.readline(MAX_LINE + 1)
            size += len(line)
            if len(line) > MAX_LINE or size > MAX_HEAD:
                headers.status = HEAD_TOO_LARGE
                return headers
            if line in (b"\r\n", b"\n", b""):
                break
            if len(items) >= MAX_HEADERS:
                headers.status = HEAD_TOO_LARGE
                return headers
            text = line.decode("latin-1")
            if text[0] in " \t":
                headers.status = "Folded header line (obsolete line folding is not accepted)"
                return headers
            name, colon, value = text.partition(":")
            if not colon or not _TOKEN.fullmatch(name):
                headers.status = "Malformed header line"
                return headers
            value = value.strip(" \t\r\n")
            if _BAD_VALUE.search(value):
                headers.status = "Control character in a header value"
                return headers
            items.append((name, value))
        index = headers._index
        for name, value in items:
            index.setdefault(name.lower(), value)
        headers.status = headers._framing_problem()
        return headers

    def _framing_problem(self) -> str:
        """Why the body's length would be ambiguous, or ""."""
        lengths = [v for k, v in self._items if k.lower() == "content-length"]
        codings = [v for k, v in self._items if k.lower() == "transfer-encoding"]
        if len(lengths) > 1:
            return "More than one Content-Length"
        if lengths and not _DIGITS.fullmatch(lengths[0]):
            return "Content-Length is not a number"
        if codings:
            if len(codings) > 1 or codings[0].lower() != "chunked":
                return "Transfer-Encoding other than chunked"
            if lengths:
                return "Both Content-Length and Transfer-Encoding"
        return ""

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._index.get(name.lower(), default)

    getheader = get

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._index

    def __delitem__(self, name: str) -> None:
        lower = name.lower()
        self._items = [(k, v) for k, v in self._items if k.lower() != lower]
        self._index.pop(lower, None)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    @property
    def headers(self) -> Iterator[str]:
        """The raw lines, as pywsgi builds the environ from them."""
        for name, value in self._items:
            yield f"{name}: {value}\r\n"

    def wsgi_items(self) -> Iterator[tuple[str, str]]:
        """``(HTTP_NAME, value)`` pairs for the environ, as pywsgi makes them.

        Names with an underscore are dropped (they would be confused with
        dashes), and Content-Type/Length have their own environ keys.
        """
        for name, value in self._items:
            if "_" in name:
                continue
            key = name.replace("-", "_").upper()
            if key != "CONTENT_TYPE" and key != "CONTENT_LENGTH":
                yield "HTTP_" + key, value

    @property
    def typeheader(self) -> str | None:
        return self._index.get("content-type")
