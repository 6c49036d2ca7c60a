"""Settings the worker cannot honour stop gunicorn with one line; ignored ones are warned about; the mapping.

The refused runs end before any worker starts (gunicorn calls the worker
class's check_config in the arbiter and prints ``Error: ...``).
"""

from __future__ import annotations

import http.client
import os
import re
import socket
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from sockjs_gevent.client import connect
from sockjs_gevent.gunicorn.requests import ForwardedScheme
from sockjs_gevent.gunicorn.settings import http_config, refusals, warnings
from sockjs_gevent.http import HttpConfig
from testkit.serverproc import ROOT
from tests.deploy.gunicornproc import run_refused, start_gunicorn


def error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, output
    return lines[0]


def test_threads_are_refused() -> None:
    status, output = run_refused("--threads", "4")
    assert status != 0
    line = error_line(output)
    assert "runs greenlets, not threads" in line and "--worker-connections" in line
    assert "Booting worker" not in output


def test_preload_is_refused() -> None:
    status, output = run_refused("--preload")
    assert status != 0
    line = error_line(output)
    assert "cannot preload the app (--preload)" in line and "monkey-patching" in line
    assert "Booting worker" not in output


def test_tls_with_several_workers_is_refused(tmp_path) -> None:
    cert = tmp_path / "cert.pem"  # (gunicorn only checks that the files exist before asking the worker class)
    cert.write_text("not read")
    status, output = run_refused("--certfile", str(cert), "--keyfile", str(cert), workers=2)
    assert status != 0
    line = error_line(output)
    assert "terminate TLS at nginx" in line and "-w 1" in line


def config(*args: str) -> Config:
    cfg = Config()
    parsed = cfg.parser().parse_args([*args, "app:app"])
    for name, value in vars(parsed).items():
        if value is not None and name in cfg.settings:
            cfg.set(name, value)
    return cfg


def test_nothing_is_refused_or_warned_about_by_default() -> None:
    cfg = config("-w", "4", "-k", "sockjs_gevent.gunicorn.Worker")
    assert refusals(cfg) == []
    assert warnings(cfg, environ={}) == []


@pytest.mark.skipif("header_map" not in Config().settings, reason="this gunicorn has no header_map")
def test_an_ignored_setting_is_warned_about_in_one_line_at_start() -> None:
    running = start_gunicorn("--header-map", "dangerous")
    try:
        matches = re.findall(r"\[WARNING\] .*ignores header_map = 'dangerous'.*", running.log())
        assert len(matches) == 1
        assert running.get("/echo")[0] == 200
    finally:
        running.stop()


def test_script_name_in_the_environment_is_warned_about() -> None:
    assert warnings(config(), environ={"SCRIPT_NAME": "/app"}) == [
        "sockjs_gevent.gunicorn.Worker ignores SCRIPT_NAME='/app' in the environment: give each SockJS service its "
        "full prefix instead"
    ]


def test_http_config_from_gunicorns_limits() -> None:
    default = HttpConfig()
    mapped = http_config(config())  # gunicorn's defaults
    assert (mapped.max_url_size, mapped.max_headers, mapped.max_field_size, mapped.keepalive_timeout) == (
        4094,
        100,
        8190,
        2,
    )
    mapped = http_config(
        config(
            "--limit-request-line",
            "0",
            "--limit-request-fields",
            "0",
            "--limit-request-field_size",
            "0",
            "--keep-alive",
            "7",
        )
    )
    assert mapped.max_url_size == default.max_url_size  # 0: unlimited is the server's own bound
    assert (mapped.max_headers, mapped.max_field_size, mapped.keepalive_timeout) == (32768, None, 7)
    mapped = http_config(config("--limit-request-line", "20000", "--limit-request-field_size", "60000"))
    assert mapped.max_url_size == 8190  # gunicorn's ceiling
    assert mapped.max_head_size >= 60000 + 8190  # one allowed header line fits in a head


def test_the_scheme_rule() -> None:
    rule = ForwardedScheme({"X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}, ["10.0.0.0/8", "192.0.2.7"])

    def scheme(addr: str, **headers: str):
        environ = {"REMOTE_ADDR": addr, "wsgi.url_scheme": "http", **headers}
        return environ["wsgi.url_scheme"] if rule.apply(environ) else "400"

    assert scheme("10.1.2.3", HTTP_X_FORWARDED_PROTO="https") == "https"
    assert scheme("192.0.2.7", HTTP_X_FORWARDED_SSL="on") == "https"
    assert scheme("192.0.2.8", HTTP_X_FORWARDED_PROTO="https") == "http"  # not allowed: ignored
    assert scheme("", HTTP_X_FORWARDED_PROTO="https") == "https"  # a Unix socket peer is trusted
    assert scheme("10.1.2.3", HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_SSL="off") == "400"
    assert scheme("10.1.2.3") == "http"
    anyone = ForwardedScheme({"X-FORWARDED-PROTO": "https"}, ["*"])
    environ = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_PROTO": "https", "wsgi.url_scheme": "http"}
    assert anyone.apply(environ) and environ["wsgi.url_scheme"] == "https"


def test_refusals_name_each_problem() -> None:
    cfg = SimpleNamespace(
        threads=1,
        worker_connections=1000,
        preload_app=False,
        is_ssl=False,
        workers=1,
        proxy_protocol="v1",
        protocol="http",
        http_protocols=["h1", "h2"],
    )
    found = refusals(cfg)
    assert len(found) == 2
    assert "PROXY protocol" in found[0] and "HTTP/1.1 only" in found[1]


def test_the_example_config_file_sets_the_worker_class() -> None:
    running = start_gunicorn("-c", os.path.join(ROOT, "examples", "gunicorn.conf.py"), worker_class=None, workers=2)
    try:
        assert "Using worker: sockjs_gevent.gunicorn.Worker" in running.log()
        with connect(running.url("/echo"), transport="websocket", timeout=10) as conn:
            conn.send("configured")
            assert conn.recv(timeout=10) == "configured"
    finally:
        running.stop()


HOOKS = """
worker_class = "sockjs_gevent.gunicorn.Worker"
keepalive = 0

def pre_request(worker, req):
    worker.log.info("pre_request %s %s", req.method, req.path)

def post_request(worker, req, environ, resp):
    worker.log.info("post_request %s %s %s", req.path, resp.status, resp.sent)
"""


def test_hooks_and_keepalive_0_from_a_config_file(tmp_path) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(HOOKS)
    running = start_gunicorn("-c", str(conf), worker_class=None)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
        try:
            conn.request("GET", "/echo")
            response = conn.getresponse()
            assert response.read() == b"Welcome to SockJS!\n"
            assert response.getheader("Connection") == "close"  # keepalive 0: one request per connection
        finally:
            conn.close()
        running.wait_for(r"\[INFO\] pre_request GET /echo\n")
        running.wait_for(r"\[INFO\] post_request /echo 200 19\n")
        with connect(running.url("/echo"), transport="websocket", timeout=10) as session:  # (an upgrade stays one)
            session.send("upgraded")
            assert session.recv(timeout=10) == "upgraded"
    finally:
        running.stop()


def test_statsd_counts_the_requests() -> None:
    """gunicorn's statsd logger counts requests in its access(): the worker calls it without an access log."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as statsd:
        statsd.bind(("127.0.0.1", 0))
        statsd.settimeout(10)
        running = start_gunicorn("--statsd-host", f"127.0.0.1:{statsd.getsockname()[1]}")
        try:
            assert running.get("/echo")[0] == 200
            received = b""
            while b"gunicorn.request.status.200:1|c" not in received:
                received += statsd.recv(65536) + b"\n"  # (TimeoutError after 10 s without it)
            assert b"gunicorn.request.duration:" in received
        finally:
            running.stop()
