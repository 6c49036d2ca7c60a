"""Streaming answers: one send (one chunk) per item, at once; complete answers in one send; write()."""

from __future__ import annotations

import socket

import pytest
from gevent.event import Event

from sockjs_gevent.http import sockio
from tests.http.httpwire import Wire


@pytest.fixture
def sends(monkeypatch):
    """Every payload the server hands to the socket, in order."""
    record: list[bytes] = []
    original = sockio.PlainIO.send

    def send(self, data, deadline_after):
        record.append(bytes(data))
        return original(self, data, deadline_after)

    monkeypatch.setattr(sockio.PlainIO, "send", send)
    return record


def test_each_item_is_its_own_chunk_sent_at_once(start_server, sends):
    """The app yields the next item only after the client has the previous
    one: nothing is held back or merged with what follows."""
    got_it = [Event() for _ in range(4)]

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])

        def items():
            yield b"prelude"
            got_it[0].wait(5)
            yield b""  # writes nothing (a zero-length chunk would end the body)
            yield b"o\n"
            got_it[1].wait(5)
            yield b'a["x"]\n'
            got_it[2].wait(5)
            yield b"h\n"

        return items()

    server = start_server(app)
    wire = Wire(server)
    wire.get("/")
    head = wire.read_head()
    assert head.header("Transfer-Encoding") == "chunked"
    for i, expected in enumerate([b"prelude", b"o\n", b'a["x"]\n', b"h\n"]):
        assert wire.read_chunk() == expected
        got_it[min(i, 3)].set()
    assert wire.read_chunk() is None
    assert wire.buf == b""
    # head+prelude, then one send per non-empty item, then the last chunk
    assert sends[1:] == [b"2\r\no\n\r\n", b'7\r\na["x"]\n\r\n', b"2\r\nh\n\r\n", b"0\r\n\r\n"]
    assert sends[0].endswith(b"\r\n\r\n7\r\nprelude\r\n")
    wire.close()


def test_a_complete_answer_goes_out_in_one_send_with_its_head(start_server, sends):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"all of it"]

    server = start_server(app)
    wire = Wire(server)
    wire.get("/")
    head, body = wire.response()
    assert (head.header("Content-Length"), body) == ("9", b"all of it")
    assert len(sends) == 1 and sends[0].endswith(b"\r\n\r\nall of it")
    wire.close()


def test_write_from_start_response_sends_at_once(start_server):
    written = Event()

    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"early ")
        written.set()
        return [b"late"]

    server = start_server(app)
    wire = Wire(server)
    wire.get("/")
    head = wire.read_head()
    assert head.header("Transfer-Encoding") == "chunked"
    assert [wire.read_chunk(), wire.read_chunk(), wire.read_chunk()] == [b"early ", b"late", None]
    wire.close()


def test_every_connection_has_tcp_nodelay(start_server):
    seen = []

    def app(environ, start_response):
        sock = environ["sockjs_gevent.socket"]
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        start_response("204 No Content", [])
        return []

    server = start_server(app)
    wire = Wire(server)
    wire.get("/")
    head, body = wire.response()
    assert head.status == 204 and head.header("Content-Length") is None
    assert seen == [1]
    wire.close()


def test_app_content_length_is_obeyed(start_server):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/short":
            start_response("200 OK", [("Content-Length", "10")])
            return iter([b"12345"])
        start_response("200 OK", [("Content-Length", "3")])
        return iter([b"12", b"345"])

    server = start_server(app)
    wire = Wire(server)
    wire.get("/long")
    head, body = wire.response()
    assert body == b"123"  # cut at the announced length...
    assert wire.read_to_close() == b""  # ...and the connection is not reused
    wire = Wire(server)
    wire.get("/short")
    assert wire.read_head().header("Content-Length") == "10"
    assert wire.read_to_close() == b"12345"  # shorter than announced: the close tells the client


def test_header_injection_is_refused_with_500(start_server, caplog):
    def app(environ, start_response):
        start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: owned=1")])
        return [b""]

    server = start_server(app)
    wire = Wire(server)
    wire.get("/")
    head, _ = wire.response()
    assert head.status == 500 and head.header("Set-Cookie") is None
    assert [r.levelname for r in caplog.records if r.name == "sockjs_gevent.http"] == ["ERROR"]
