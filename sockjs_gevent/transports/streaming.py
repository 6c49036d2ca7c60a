"""Streaming transports: many frames per response (xhr_streaming, eventsource, htmlfile)."""

from __future__ import annotations

from .. import protocol
from ..responses import HTML, JAVASCRIPT
from .base import ReceivingTransport, SessionRoute, callback_param, line_frame
from .receiving import receive

_XHR_PRELUDE = b"h" * 2048 + b"\n"


# The client URI-decodes event data, so '%' must be escaped along with the
# characters that would end an event line.
_EVENTSOURCE_ESCAPES = str.maketrans({"%": "%25", "\r": "%0D", "\n": "%0A", "\0": "%00"})


def _eventsource_frame(frame: str, callback: str | None) -> bytes:
    return ("data: " + frame.translate(_EVENTSOURCE_ESCAPES) + "\r\n\r\n").encode("utf-8")


_HTMLFILE_HEAD = """<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.{callback};
    c.start();
    function p(d) {{c.message(d);}};
    window.onload = function() {{c.stop();}};
  </script>"""


def _htmlfile_prelude(callback: str | None) -> bytes:
    head = _HTMLFILE_HEAD.format(callback=callback)
    # Some browsers render nothing until they have 1 KiB of document.
    return (head + " " * max(0, 1037 - len(head)) + "\r\n\r\n").encode("utf-8")


def _htmlfile_frame(frame: str, callback: str | None) -> bytes:
    # Inside a <script>, "</script>" ends it early, and "<!--" followed by
    # "<script" makes the HTML parser swallow later frames whole; written
    # as \u003c, "<" is the same JS string and the parser never sees one.
    quoted = protocol.quote(frame).replace("<", "\\u003c")
    return f"<script>\np({quoted});\n</script>\r\n".encode()


XHR_STREAMING = ReceivingTransport(
    name="xhr-streaming",
    path="xhr_streaming",
    content_type=JAVASCRIPT,
    frame=line_frame,
    streaming=True,
    cors=True,
    preflight=True,
    prelude=lambda callback: _XHR_PRELUDE,
)

EVENTSOURCE = ReceivingTransport(
    name="eventsource",
    path="eventsource",
    content_type="text/event-stream",
    frame=_eventsource_frame,
    streaming=True,
    cors=True,
    prelude=lambda callback: b"\r\n",
    methods=("GET",),
)

HTMLFILE = ReceivingTransport(
    name="htmlfile",
    path="htmlfile",
    content_type=HTML,
    frame=_htmlfile_frame,
    streaming=True,
    prelude=_htmlfile_prelude,
    callback=callback_param(max_length=None),
    methods=("GET",),
)

ROUTES: tuple[SessionRoute, ...] = (XHR_STREAMING.route(receive), EVENTSOURCE.route(receive), HTMLFILE.route(receive))
NAMES: tuple[str, ...] = (XHR_STREAMING.name, EVENTSOURCE.name, HTMLFILE.name)
