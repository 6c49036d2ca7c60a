"""Reading SockJS frames out of streaming answers: xhr_streaming, eventsource, htmlfile.

``Receiver`` opens one streaming request on a ``Raw`` connection and cuts
its body into frames as bytes arrive: the prelude, then each frame decoded
back to its SockJS text (``o``, ``h``, ``a[...]``, ``c[...]``). For the
rules about chunking it also checks that each chunk is one whole frame.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import unquote

from testkit.rawhttp import Raw
from testkit.serverproc import RunningServer
from testkit.sockjshttp import messages_of, session_path

#: The page every htmlfile answer starts with (CALLBACK stands for the callback), before its padding.
HTMLFILE_HEAD = """<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.CALLBACK;
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>"""

#: transport -> (method, request suffix, regex of one frame; group 1 is the frame data)
STREAMING = {
    "xhr_streaming": ("POST", "", re.compile(rb"([^\n]*)\n")),
    "eventsource": ("GET", "", re.compile(rb"data: (.*?)\r\n\r\n", re.S)),
    "htmlfile": ("GET", "?c=cb", re.compile(rb"<script>\np\((.*?)\);\n</script>\r\n", re.S)),
}


#: Fixed preludes (htmlfile's depends on the callback), and what ends one frame.
PRELUDES = {"xhr_streaming": b"h" * 2048 + b"\n", "eventsource": b"\r\n"}
FRAME_END = {"xhr_streaming": b"\n", "eventsource": b"\r\n\r\n", "htmlfile": b"</script>"}


def decode_frame(transport: str, data: bytes) -> str:
    """The SockJS text of one frame's data (eventsource URL-quotes it, htmlfile JSON-encodes it)."""
    if transport == "eventsource":
        return unquote(data.decode("utf-8"), errors="strict")
    if transport == "htmlfile":
        return json.loads(data.decode("utf-8"))
    return data.decode("utf-8")


def prelude_length(transport: str, body: bytes) -> int | None:
    """Length of the prelude once it has fully arrived, else None."""
    if transport == "xhr_streaming":
        return 2049 if len(body) >= 2049 else None
    if transport == "eventsource":
        return 2 if len(body) >= 2 else None
    end = body.find(b"\r\n\r\n")
    return end + 4 if end >= 0 else None


class Receiver:
    """A streaming receiving request (xhr_streaming, eventsource, htmlfile)."""

    def __init__(
        self,
        server: RunningServer,
        prefix: str,
        sid: str,
        transport: str = "xhr_streaming",
        headers: Iterable[tuple[str, str]] | dict[str, str] = (),
        version: str = "HTTP/1.1",
        server_id: str = "000",
        query: str | None = None,
    ) -> None:
        """Send the request and read the answer's head (``self.head``); ``query`` replaces ``?c=cb``."""
        method, suffix, self.pattern = STREAMING[transport]
        self.transport = transport
        self.raw = Raw(server)
        path = session_path(prefix, sid, transport, server_id) + (suffix if query is None else query)
        self.raw.send_request(method, path, headers, version=version)
        self.head = self.raw.read_head()
        self.pos: int | None = None
        self.frame_sizes: list[int] = []

    def prelude(self, timeout: float | None = None) -> bytes:
        """Wait for the whole prelude (padding, or htmlfile's page) and return it."""
        self.raw.read_until(lambda b: prelude_length(self.transport, b) is not None, timeout)
        self.pos = prelude_length(self.transport, self.raw.body)
        return self.raw.body[: self.pos]

    def _after_prelude(self, timeout: float | None) -> int:
        """Where the next frame starts in the body (the prelude read first if it was not)."""
        if self.pos is None:
            self.prelude(timeout)
        assert self.pos is not None
        return self.pos

    def frame(self, timeout: float | None = None) -> str:
        """The next frame, decoded to its SockJS text (``o``, ``a[...]``, ...)."""
        pos = self._after_prelude(timeout)
        match: list[re.Match[bytes]] = []

        def found(body: bytes) -> bool:
            m = self.pattern.match(body, pos)
            match[:] = [m] if m else []
            return m is not None

        self.raw.read_until(found, timeout)
        m = match[0]
        self.pos = m.end()
        self.frame_sizes.append(m.end() - m.start())
        return decode_frame(self.transport, m.group(1))

    def frame_or_end(self, timeout: float | None = None) -> str | None:
        """The next frame, or None when the response ended instead."""
        pos = self._after_prelude(timeout)
        self.raw.read_until(lambda b: self.pattern.match(b, pos) is not None or self.raw.done, timeout)
        if self.pattern.match(self.raw.body, pos) is None:
            assert self.raw.body[pos:] == b"", f"junk at the end: {self.raw.body[pos:]!r}"
            return None
        return self.frame(timeout)

    def messages(self, count: int, timeout: float | None = None) -> list[str]:
        """Messages from ``a`` frames until ``count`` arrived (other frames fail)."""
        got: list[str] = []
        while len(got) < count:
            got += messages_of(self.frame(timeout))
        return got

    def chunks(self, count: int, timeout: float | None = None) -> list[bytes]:
        """The first ``count`` chunks of the (chunked) answer, as the server wrote them."""
        raw = self.raw
        raw.read_until(lambda body: len(raw.chunks) >= count or raw.done, timeout)
        assert len(raw.chunks) >= count, (
            f"the answer ended after {len(raw.chunks)} chunks: {[c[:40] for c in raw.chunks]!r}"
        )
        return raw.chunks[:count]

    def units(self, count: int, timeout: float | None = None) -> list[str]:
        """Frames of the first ``count`` chunks after the prelude, each chunk exactly one unit.

        Asserts the first chunk is the whole prelude alone and every later
        chunk one whole frame: nothing merged, nothing split.
        """
        chunks = self.chunks(count + 1, timeout)
        prelude = chunks[0]
        assert prelude_length(self.transport, prelude) == len(prelude), (
            f"first chunk is not the prelude alone: {prelude[-80:]!r}"
        )
        assert prelude == PRELUDES.get(self.transport, prelude), prelude
        frames = []
        for chunk in chunks[1:]:
            m = self.pattern.fullmatch(chunk)
            one = m is not None and chunk.count(FRAME_END[self.transport]) == 1
            assert m is not None and one, f"chunk is not exactly one {self.transport} frame: {chunk[:300]!r}"
            frames.append(decode_frame(self.transport, m.group(1)))
        self.pos = sum(len(c) for c in chunks)
        return frames

    def ended(self, timeout: float | None = None) -> bool:
        """Wait for the end of the response body; True if it ended with nothing more."""
        self.raw.read_body(timeout)
        return self.raw.body[self.pos :] == b""

    def close(self) -> None:
        """Close the connection (normally; ``raw.abort()`` resets it)."""
        self.raw.close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
