"""A fast request-header reader for gevent's pywsgi handler.

pywsgi parses headers with ``http.client.parse_headers``, which runs the
``email`` package's feed parser: about a sixth of the server's time on a
polling round trip. SockJS requests carry a handful of plain headers, so
``Headers.read`` splits the lines itself and gives pywsgi the same
interface (``get``, ``getheader``, ``headers``, ``typeheader``, ``status``,
``del``). The limits match http.client's: 65,536 bytes per line, 100
headers; past them ``status`` says why and pywsgi answers 400.
"""

from __future__ import annotations

from typing import BinaryIO, Iterator, Optional

MAX_LINE = 65536
MAX_HEADERS = 100


class Headers:
    """Request headers in arrival order, looked up without regard to case."""

    __slots__ = ("_items", "_index", "status")

    def __init__(self) -> None:
        self._items: list[tuple[str, str]] = []
        self._index: dict[str, str] = {}  # lower-case name -> first value
        #: Empty, or why the headers are invalid (pywsgi answers 400).
        self.status = ""

    @classmethod
    def read(cls, rfile: BinaryIO, *_: object) -> "Headers":
        """Read header lines up to the empty line that ends them."""
        headers = cls()
        items = headers._items
        while True:
            line = rfile.readline(MAX_LINE + 1)
            if len(line) > MAX_LINE:
                headers.status = "Line too long"
                return headers
            if line in (b"\r\n", b"\n", b""):
                break
            if len(items) >= MAX_HEADERS:
                headers.status = "Too many headers"
                return headers
            text = line.decode("latin-1")
            if text[0] in " \t":
                if not items:
                    headers.status = "Continuation line before any header"
                    return headers
                name, value = items[-1]
                items[-1] = (name, value + " " + text.strip())
                continue
            name, colon, value = text.partition(":")
            if not colon or not name or name != name.strip():
                headers.status = "Malformed header line"
                return headers
            items.append((name, value.strip()))
        index = headers._index
        for name, value in items:
            index.setdefault(name.lower(), value)
        return headers

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
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
    def typeheader(self) -> Optional[str]:
        return self._index.get("content-type")
