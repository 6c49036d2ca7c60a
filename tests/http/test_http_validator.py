"""wsgiref.validate.validator around a test app finds nothing wrong with the server."""

from __future__ import annotations

import logging
import warnings
from wsgiref.validate import WSGIWarning, validator

from tests.http.httpwire import Wire


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"one", b"", b"two"])
    if path == "/post":
        stream = environ["wsgi.input"]
        first = stream.readline()
        rest = stream.read(int(environ["CONTENT_LENGTH"]) - len(first))
        lines = stream.readlines()
        body = first + rest + b"".join(lines) + b"".join(iter(stream))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"returned"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"plain"]


def test_the_validator_finds_nothing(start_server, caplog):
    caplog.set_level(logging.WARNING)
    server = start_server(validator(app))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wire = Wire(server)
        wire.get("/?q=1")
        assert wire.response()[1] == b"plain"
        wire.get("/stream")
        assert wire.response()[1] == b"onetwo"
        wire.send(
            b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nline\nbody!\n"
        )
        assert wire.response("POST")[1] == b"line\nbody!\n"
        wire.send(b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n")
        assert wire.response()[0].status == 400  # refused before the app: smuggling attempt
        wire.close()
        wire = Wire(server)
        wire.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert wire.read_head().header("Content-Length") == "5"
        wire.get("/write", version="HTTP/1.0")
        assert wire.response()[1] == b"written returned"
        wire.close()
    assert [str(w.message) for w in caught if issubclass(w.category, WSGIWarning)] == []
    assert caplog.records == []
