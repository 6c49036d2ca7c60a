"""serve() and its keywords, the access log, graceful shutdown of idle connections, the pywsgi choice."""

from __future__ import annotations

import io
import logging
import re

import pytest

from sockjs_gevent.http import HttpServer
from sockjs_gevent.server import build_server, serve
from tests.http.httpwire import Wire, hello, settle

COMBINED = re.compile(
    r"^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "
    r'"GET /path\?q=1 HTTP/1\.1" 200 5 "http://ref\.example/" "test \\"agent\\""$'
)


def test_unknown_serve_keywords_are_a_type_error_naming_them():
    with pytest.raises(TypeError, match="handler_clas"):
        serve(hello, "127.0.0.1", 0, handler_clas=object)


def test_server_choice_and_its_options_are_checked():
    with pytest.raises(ValueError, match="'nginx'"):
        build_server(hello, server="nginx")
    with pytest.raises(TypeError, match="pywsgi"):
        build_server(hello, handler_class=object)
    with pytest.raises(TypeError, match="max_body_size"):
        build_server(hello, server="pywsgi", max_body_size=10)
    assert isinstance(build_server(hello, port=0), HttpServer)
    assert not isinstance(build_server(hello, port=0, server="pywsgi"), HttpServer)


def test_access_log_is_off_by_default(start_server, caplog):
    caplog.set_level(logging.DEBUG)
    server = start_server(hello)
    wire = Wire(server)
    wire.get("/")
    wire.response()
    wire.close()
    settle(server)
    assert caplog.records == []


def test_access_log_to_a_logger_in_the_combined_format(start_server, caplog):
    caplog.set_level(logging.INFO, logger="test.access")
    server = start_server(hello, access_log=logging.getLogger("test.access"))
    wire = Wire(server)
    wire.get("/path?q=1", 'Referer: http://ref.example/\r\nUser-Agent: test "agent"\r\n')
    wire.response()
    wire.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "test.access"]
    assert len(lines) == 1 and COMBINED.match(lines[0]), lines


def test_access_log_to_a_file(start_server):
    out = io.StringIO()
    server = start_server(hello, access_log=out)
    wire = Wire(server)
    wire.get("/path?q=1", 'Referer: http://ref.example/\r\nUser-Agent: test "agent"\r\n')
    wire.response()
    wire.close()
    assert COMBINED.match(out.getvalue().rstrip("\n")), out.getvalue()


def test_shutting_down_closes_idle_kept_alive_connections_at_once(start_server):
    server = start_server(hello)
    idle = Wire(server)
    idle.get("/")
    idle.response()
    server.close_idle_connections()
    assert idle.read_to_close() == b""
    busy = Wire(server)  # still accepted until stop_accepting; answered, then closed
    busy.get("/")
    head, body = busy.response()
    assert body == b"hello" and head.header("Connection") == "close"
    assert busy.read_to_close() == b""
