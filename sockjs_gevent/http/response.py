"""Writing one response: ``start_response``, ``write``, the head, the body framing.

Framing is decided when the head goes out:

- 1xx, 204, 304 and answers to HEAD carry no body (HEAD keeps the
  Content-Length the app set, or the one a complete answer would have);
- an app-set Content-Length is obeyed (a shorter body closes the connection,
  a longer one is cut);
- a complete answer (a list of at most one body) gets a Content-Length and
  goes out in one send with its head;
- anything else is chunked on HTTP/1.1, one chunk per item the app yields,
  each sent at once; on HTTP/1.0 it ends by closing the connection.

The app's part of a head (the status line and its header lines, checked
for line breaks) is worked out once per distinct status and header list
and kept in a bounded cache; what depends on the request is added per
answer.

A 101 goes out as soon as the app calls ``write`` (``write(b"")`` sends it
alone) and the connection then belongs to the new protocol; or the app
takes the socket with the head unsent (``take_head``) and sends it itself,
with the new protocol's first bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from email.utils import formatdate
from typing import Any, NamedTuple

from .sockio import PlainIO

# Body framing, once the head is out.
NO_BODY = 0  # HEAD, 1xx, 204, 304
LENGTH = 1  # Content-Length
CHUNKED = 2
UNTIL_CLOSE = 3  # HTTP/1.0 streams, and upgraded connections

# What a response header is, by name as apps spell it (case-insensitive).
_OTHER, _CONTENT_LENGTH, _CONNECTION, _DATE, _TRANSFER_ENCODING = range(5)
_KINDS: dict[str, int] = {}
_KINDS_MAX = 1024
_SPECIAL = {
    "content-length": _CONTENT_LENGTH,
    "connection": _CONNECTION,
    "date": _DATE,
    "transfer-encoding": _TRANSFER_ENCODING,
}

_STATUS_LINES: dict[str, tuple[bytes, int]] = {}
_STATUS_MAX = 256


class _Head(NamedTuple):
    """What a status and header list come to, whatever the request: worked out once per distinct answer."""

    #: The status line and the app's header lines (without the blank line that ends the head).
    start: bytes
    code: int
    #: The app's Content-Length, None if it set none.
    length: int | None
    #: The app set a Connection header (the server adds none), and whether it says close.
    has_connection: bool
    connection_close: bool
    #: The app set a Date header (the server adds none).
    has_date: bool


#: ``(status, tuple(headers))`` -> its ``_Head``. Apps answer with a few
#: header sets over and over; one that echoes request data (an Origin, a
#: length) makes new keys, so the cache is emptied when full, and a long
#: head is not kept (what a client's echoed headers can make it hold stays
#: under about 2 x 512 x 2 KiB).
_HEADS: dict[tuple[str, tuple[tuple[str, str], ...]], _Head] = {}
_HEADS_MAX = 512
_HEAD_CACHED_MAX = 2048
_SWITCHING = "101 Switching Protocols"
_ACCEPT = "Sec-WebSocket-Accept"


class _DateLine:
    """The current second, and its "Date: ..." header line (formatted once per second)."""

    __slots__ = ("second", "line")

    def __init__(self) -> None:
        self.second = 0
        self.line = ""


_date = _DateLine()


def http_date() -> str:
    """The Date header's value, formatted once per second."""
    now = int(time.time())
    if now != _date.second:
        _date.second = now
        _date.line = "Date: " + formatdate(now, usegmt=True)
    return _date.line[6:]


def _kind(name: str) -> int:
    kind = _KINDS.get(name)
    if kind is None:
        kind = _SPECIAL.get(name.lower(), _OTHER)
        if len(_KINDS) < _KINDS_MAX:
            _KINDS[name] = kind
    return kind


def _status_line(status: str) -> tuple[bytes, int]:
    """The status line of a WSGI status string, and its code (cached)."""
    if (
        not isinstance(status, str)
        or len(status) < 4
        or not status[:3].isdigit()
        or status[3] != " "
        or "\r" in status
        or "\n" in status
    ):
        raise ValueError(f"bad WSGI status {status!r}: want '200 OK' (three digits, a space, a reason)")
    line = ("HTTP/1.1 " + status + "\r\n").encode("latin-1"), int(status[:3])
    if len(_STATUS_LINES) < _STATUS_MAX:
        _STATUS_LINES[status] = line
    return line


def _head(status: str, headers: Sequence[Sequence[str]]) -> _Head:
    """Work out a status and the app's headers (``Response.send_head`` caches it): ValueError if they are bad.

    (Pairs, not ``tuple[str, str]``: WSGI says tuples, apps send lists too, and
    a compiled build would check each pair against the annotation.)
    """
    line, code = _STATUS_LINES.get(status) or _status_line(status)
    length: str | None = None
    has_date = has_connection = connection_close = drop_te = False
    for name, value in headers:
        kind = _kind(name)
        if kind == _CONTENT_LENGTH:
            length = value
        elif kind == _CONNECTION:
            has_connection = True
            if "close" in value.lower():
                connection_close = True
        elif kind == _DATE:
            has_date = True
        elif kind == _TRANSFER_ENCODING:
            drop_te = True  # hop-by-hop: the server frames the body itself
    if drop_te:
        headers = [(k, v) for k, v in headers if _kind(k) != _TRANSFER_ENCODING]
    number = None
    if length is not None:
        if not length.isdigit():
            length = length.strip(" \t")
            if not length.isdigit():
                raise ValueError(f"the app's Content-Length {length!r} is not a number")
        number = int(length)
    if headers:
        text = "\r\n".join(map(": ".join, headers))
        lines = len(headers) - 1
        if text.count("\n") != lines or text.count("\r") != lines:
            raise ValueError("a response header contains a line break (header injection?)")
        line += (text + "\r\n").encode("latin-1")
    return _Head(line, code, number, has_connection, connection_close, has_date)


def error_response(code: int, reason: str, message: str) -> bytes:
    """A short plain-text answer the server gives itself, closing the connection."""
    body = message.encode("utf-8", "replace") + b"\n"
    return (
        f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\nDate: {http_date()}\r\n\r\n"
    ).encode("latin-1") + body


class Response:
    """The answer to the current request of one connection (reset per request)."""

    __slots__ = (
        "io",
        "write_timeout",
        "status",
        "headers",
        "head_sent",
        "mode",
        "left",
        "close",
        "sent",
        "code",
        "upgraded",
        "http11",
        "head_request",
    )

    def __init__(self, io: PlainIO, write_timeout: float | None) -> None:
        self.io = io
        self.write_timeout = write_timeout
        self.mode = NO_BODY
        self.left = 0
        self.code = 0
        self.reset(True, False, False)

    def reset(self, http11: bool, head_request: bool, close: bool) -> None:
        # (mode, left and code are set when the head goes out)
        self.status: str | None = None
        self.headers: Any = None
        self.head_sent = False
        self.close = close  # end the connection after this answer
        self.sent = 0  # body bytes, for the access log
        self.upgraded = False
        self.http11 = http11
        self.head_request = head_request

    # -- the WSGI callables ----------------------------------------------------

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.head_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response was called a second time without exc_info")
        if type(headers) is not list:
            raise TypeError(f"WSGI response headers must be a list, got {type(headers).__name__}")
        self.status = status
        self.headers = headers
        return self.write

    def write(self, data: bytes) -> None:
        """The ``write`` callable: sends at once (``write(b"")`` sends just the head)."""
        if self.status is None:
            raise AssertionError("write() called before start_response()")
        if not self.head_sent:
            self.send_head(data, None)
        elif data:
            self.send_item(data)

    # -- sending -----------------------------------------------------------------

    def send_item(self, data: bytes) -> None:
        """One item of the body, as its own send (one chunk on HTTP/1.1)."""
        if not self.head_sent:
            self.send_head(data, None)
            return
        mode = self.mode
        if mode == CHUNKED:
            payload = b"%x\r\n%b\r\n" % (len(data), data)
        elif mode == LENGTH:
            if len(data) > self.left:
                data = data[: self.left]
                self.close = True  # the app said less than it wrote: cut, and do not reuse
            self.left -= len(data)
            payload = data
        elif mode == UNTIL_CLOSE:
            payload = data
        else:
            return
        self.sent += len(data)
        if payload:
            self.io.send(payload, None if self.upgraded else self.write_timeout)

    def send_complete(self, data: bytes) -> None:
        """A whole body known at once: one send with the head when it is not out yet."""
        if self.head_sent:
            if data:
                self.send_item(data)
            self.finish()
        else:
            self.send_head(data, len(data))
            if self.mode == LENGTH and self.left:
                self.close = True

    def finish(self) -> None:
        """The app's iterable is exhausted."""
        if not self.head_sent:
            self.send_head(b"", 0)
        elif self.mode == CHUNKED:
            self.io.send(b"0\r\n\r\n", self.write_timeout)
        elif self.mode == LENGTH and self.left:
            self.close = True  # shorter than announced: the client can only learn by the close
        elif self.mode == UNTIL_CLOSE:
            self.close = True

    def take_head(self) -> bytes:
        """The head, as ``send_head`` would send it with no body, for the caller to send.

        The answer then counts as started (``head_sent``, its code and
        framing set): the server writes nothing more of it. For a taken
        socket's first bytes (an upgrade's 101, see ``sockettaker``).
        """
        return self.send_head(b"", None, send=False)

    def send_head(self, data: bytes, complete: int | None, send: bool = True) -> bytes:
        """The head, and ``data`` framed after it, in one send; returns what was sent.

        ``complete`` is the whole body's length when ``data`` is all of it.
        ``send=False`` only renders it (``take_head``): the answer's state is
        as if it were sent. (One function, not a renderer and a sender: this
        runs once per answer, and a call more is a measurable share of it.)
        """
        status = self.status
        if status is None:
            raise AssertionError("the app returned without calling start_response()")
        headers = self.headers
        accept = None
        if status == _SWITCHING and headers and headers[-1][0] == _ACCEPT:
            # A websocket's 101: its Sec-WebSocket-Accept is its own, what
            # comes before it the same for every one. The rest is kept; the
            # value (base64) is checked here for what could break the line.
            accept = headers[-1][1]
            if type(accept) is str and accept.isascii() and accept.isprintable():
                headers = headers[:-1]
            else:
                accept = None  # (worked out, and refused, with the rest)
        key = (status, tuple(headers))
        try:
            known = _HEADS.get(key)
            cacheable = True
        except TypeError:  # (an unhashable header: a list, say, where WSGI says tuple)
            known = None
            cacheable = False
        if known is None:
            known = _head(status, headers)
            # (Any other 101 may carry values of its connection's own: never seen again.)
            if cacheable and (known.code != 101 or accept is not None) and len(known.start) <= _HEAD_CACHED_MAX:
                if len(_HEADS) >= _HEADS_MAX:
                    _HEADS.clear()
                _HEADS[key] = known
        start, code, length, has_connection, connection_close, has_date = known
        if accept is not None:
            start += b"Sec-WebSocket-Accept: " + accept.encode("ascii") + b"\r\n"
        self.code = code
        if connection_close:
            self.close = True
        extra = []
        if code < 200 or code == 204 or code == 304:
            mode = NO_BODY
            if code == 101:
                mode = UNTIL_CLOSE
                self.upgraded = True
                self.close = True
        elif self.head_request:
            mode = NO_BODY
            if length is None and complete is not None:
                extra.append(f"Content-Length: {complete:d}")
        elif length is not None:
            mode = LENGTH
            self.left = length
        elif complete is not None:
            mode = LENGTH
            self.left = complete
            extra.append(f"Content-Length: {complete:d}")
        elif self.http11:
            mode = CHUNKED
            extra.append("Transfer-Encoding: chunked")
        else:
            mode = UNTIL_CLOSE
            self.close = True
        self.mode = mode
        if not has_connection and not self.upgraded:
            if self.close:
                extra.append("Connection: close")
            elif not self.http11:
                extra.append("Connection: keep-alive")
        if not has_date:
            now = int(time.time())
            if now != _date.second:
                _date.second = now
                _date.line = "Date: " + formatdate(now, usegmt=True)
            extra.append(_date.line)
        if extra:
            head = start + ("\r\n".join(extra) + "\r\n\r\n").encode("latin-1")
        else:
            head = start + b"\r\n"
        if data and mode != NO_BODY:
            if mode == CHUNKED:
                payload = head + b"%x\r\n%b\r\n" % (len(data), data)
            else:
                if mode == LENGTH:
                    if len(data) > self.left:
                        data = data[: self.left]
                        self.close = True
                    self.left -= len(data)
                payload = head + data
            self.sent = len(data)
        else:
            payload = head
        self.head_sent = True  # (only now: a bad item above still gets the app a 500)
        if send:
            self.io.send(payload, None if self.upgraded else self.write_timeout)
        return payload

    def send_continue(self) -> None:
        self.io.send(b"HTTP/1.1 100 Continue\r\n\r\n", self.write_timeout)


def iterate(result: Iterable[bytes], response: Response) -> None:
    """Send every item of a streaming answer at once, each as its own write.

    Once the head of an answer without a body (HEAD, 204, 304) is out, the
    rest is not asked for: a HEAD of an endless stream ends too.
    """
    send_item = response.send_item
    for data in result:
        if data:
            send_item(data)
            if response.mode == NO_BODY:
                break
    response.finish()
