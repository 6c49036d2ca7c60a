"""gunicorn -k sockjs_gevent.gunicorn.Worker serving: transports, binds, limits, access and error logs, scheme, TLS.

Most tests share one gunicorn (two workers, a TCP and a Unix bind, small
request limits, an access log file); the timeout and TLS tests start their
own.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import time

import pytest

from sockjs_gevent.client import connect
from tests.deploy.gunicornproc import Gunicorn, poll_until, start_gunicorn

ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s ua=%({user-agent}i)s type=%({content-type}o)s took=%(L)s'


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("gunicorn")


@pytest.fixture(scope="module")
def served(folder):
    running = start_gunicorn(
        "--access-logfile",
        str(folder / "access.log"),
        "--access-logformat",
        ACCESS_FORMAT,
        "--limit-request-line",
        "200",
        "--limit-request-fields",
        "20",
        "--limit-request-field_size",
        "300",
        workers=2,
        binds=[f"unix:{folder / 'g.sock'}"],
    )
    yield running
    running.stop()
    assert "Traceback" not in running.log()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 10.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("transport", ["websocket", "xhr-streaming", "xhr-polling", "eventsource"])
def test_echo_through_the_worker(served: Gunicorn, transport: str) -> None:
    with connect(served.url("/echo"), transport=transport, timeout=10) as conn:
        for text in ("hello", "ünïcode", "x" * 5000):
            conn.send(text)
            assert conn.recv(timeout=10) == text
        assert conn.transport_name == transport


def test_a_unix_socket_bind_serves_sockjs(served: Gunicorn, folder) -> None:
    path = str(folder / "g.sock")
    status, body = request(UnixHTTPConnection(path), "GET", "/echo/info")
    assert status == 200 and json.loads(body)["websocket"] is True
    assert request(UnixHTTPConnection(path), "POST", "/echo/000/unixsession/xhr") == (200, b"o\n")
    assert request(UnixHTTPConnection(path), "POST", "/echo/000/unixsession/xhr_send", b'["via unix"]')[0] == 204
    assert request(UnixHTTPConnection(path), "POST", "/echo/000/unixsession/xhr") == (200, b'a["via unix"]\n')
    # PEP 3333 strings, as gunicorn gives a Unix socket without a Host header's help
    assert request(UnixHTTPConnection(path), "GET", "/_environ/SERVER_NAME") == (200, repr(path).encode())
    assert request(UnixHTTPConnection(path), "GET", "/_environ/wsgi.multiprocess") == (200, b"True")


def test_request_limits_are_gunicorns(served: Gunicorn) -> None:
    assert served.get("/echo/info?pad=" + "x" * 150)[0] == 200
    assert served.get("/echo/info?pad=" + "x" * 250)[0] == 414  # limit_request_line 200
    assert served.get("/echo/info", {"X-Pad": "y" * 250})[0] == 200
    assert served.get("/echo/info", {"X-Pad": "y" * 350})[0] == 431  # limit_request_field_size 300
    assert served.get("/echo/info", {f"X-Pad-{i}": "z" for i in range(15)})[0] == 200
    assert served.get("/echo/info", {f"X-Pad-{i}": "z" for i in range(25)})[0] == 431  # limit_request_fields 20


def test_library_logs_go_to_gunicorns_error_log(served: Gunicorn) -> None:
    start = served.mark()
    assert served.get("/echo/info?pad=" + "q" * 300)[0] == 414
    # gunicorn's error log format: [time] [pid] [LEVEL] message
    served.wait_for(r"\[\d+\] \[INFO\] 414 URI Too Long from 127\.0\.0\.1", start=start)


def test_wsgi_errors_goes_to_gunicorns_error_log(served: Gunicorn) -> None:
    start = served.mark()
    assert served.get("/_errors") == (200, b"written")
    served.wait_for(r"the app wrote this to wsgi\.errors", start=start)


def test_the_access_log_is_gunicorns(served: Gunicorn, folder) -> None:
    assert served.get("/echo/info", {"User-Agent": "access-test/1"})[0] == 200
    line = re.compile(
        r'^127\.0\.0\.1 "GET /echo/info HTTP/1\.1" 200 \d+ ua=access-test/1 '
        r"type=application/json; charset=UTF-8 took=\d+\.\d{6}$",
        re.M,
    )

    def logged():
        return line.search((folder / "access.log").read_text())

    poll_until(logged, 10, "the access log line")


def test_forwarded_proto_from_an_allowed_peer_sets_the_scheme(served: Gunicorn) -> None:
    assert served.get("/_scheme") == (200, b"http")
    assert served.get("/_scheme", {"X-Forwarded-Proto": "https"}) == (200, b"https")
    assert served.get("/_scheme", {"X-Forwarded-Ssl": "on"}) == (200, b"https")
    assert served.get("/_scheme", {"X-Forwarded-Proto": "http"}) == (200, b"http")
    # two of secure_scheme_headers that disagree: gunicorn's InvalidSchemeHeaders, a 400
    assert served.get("/_scheme", {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "off"})[0] == 400
    # the iframe page and /info answer the same over a proxied https request
    assert served.get("/echo/info", {"X-Forwarded-Proto": "https"})[0] == 200


def test_forwarded_proto_from_another_peer_is_ignored(served: Gunicorn) -> None:
    """forwarded_allow_ips is 127.0.0.1 (gunicorn's default): a peer at 127.0.0.2 cannot claim https."""
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10, source_address=("127.0.0.2", 0))
    assert request(conn, "GET", "/_scheme", headers={"X-Forwarded-Proto": "https"}) == (200, b"http")


def test_an_idle_worker_outlives_the_timeout() -> None:
    """--timeout 2: a worker that serves nothing still notifies the arbiter, so it is not killed."""
    running = start_gunicorn("--timeout", "2", workers=2)
    try:
        before = running.workers()
        assert len(before) == 2
        time.sleep(3.0)  # past the timeout, with nothing to do
        assert running.workers() == before
        assert running.get("/echo")[0] == 200
        assert "WORKER TIMEOUT" not in running.log()
    finally:
        running.stop()


def test_a_worker_whose_event_loop_is_stuck_is_killed_at_the_timeout() -> None:
    """The heartbeat runs in the event loop: a worker that stops yielding stops notifying, and is replaced."""
    running = start_gunicorn("--timeout", "2", workers=1)
    try:
        (stuck,) = running.workers()
        start = running.mark()
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=20)
        conn.request("GET", "/_busy")
        running.wait_for(rf"WORKER TIMEOUT \(pid:{stuck}\)", start=start, timeout=15)
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
            conn.getresponse()
        conn.close()
        (replacement,) = running.wait_ready(1, start=start)
        assert replacement != stuck and running.get("/echo")[0] == 200
    finally:
        running.stop()


def test_certfile_and_keyfile_serve_https_with_one_worker(certificate) -> None:
    cert, key = certificate
    running = start_gunicorn("--certfile", cert, "--keyfile", key, workers=1, scheme="https")
    context = ssl.create_default_context(cafile=cert)
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", running.port, context=context, timeout=10)
        assert request(conn, "GET", "/_scheme") == (200, b"https")
        for transport in ("websocket", "xhr-streaming"):
            with connect(running.url("/echo"), transport=transport, ssl_context=context, timeout=10) as session:
                session.send("over tls")
                assert session.recv(timeout=10) == "over tls"
    finally:
        running.stop()


def test_a_flask_app_with_flask_sockjs() -> None:
    running = start_gunicorn(workers=2, app="gunicorn_flask_app:app")
    try:
        assert running.get("/hello") == (200, b"hello from flask")
        for transport in ("websocket", "xhr-polling"):
            with connect(running.url("/echo"), transport=transport, timeout=10) as conn:
                conn.send("through flask")
                assert conn.recv(timeout=10) == "through flask"
    finally:
        running.stop()
    assert "Traceback" not in running.log()


def test_the_app_is_imported_after_monkey_patching(served: Gunicorn) -> None:
    assert served.get("/_patched") == (200, b"True")


def test_worker_connections_bounds_the_connections_a_worker_serves() -> None:
    """Two kept-alive connections hold a pool of two: a third is not served until one closes.

    (Websockets and streams leave the pool once open: they run from the event loop.)
    """
    running = start_gunicorn("--worker-connections", "2", "--keep-alive", "30", workers=1)
    try:
        held = [http.client.HTTPConnection("127.0.0.1", running.port, timeout=10) for _ in range(2)]
        for conn in held:
            conn.request("GET", "/echo")
            assert conn.getresponse().read() == b"Welcome to SockJS!\n"  # and the connection stays open
        waiting = http.client.HTTPConnection("127.0.0.1", running.port, timeout=0.5)
        waiting.request("GET", "/echo")  # (the kernel takes the connection; the worker does not accept it)
        with pytest.raises(TimeoutError):
            waiting.getresponse()
        held[0].close()
        waiting.sock.settimeout(10)
        response = waiting.getresponse()
        assert (response.status, response.read()) == (200, b"Welcome to SockJS!\n")
        waiting.close()
        held[1].request("GET", "/echo")
        assert held[1].getresponse().read() == b"Welcome to SockJS!\n"
        held[1].close()
    finally:
        running.stop()
