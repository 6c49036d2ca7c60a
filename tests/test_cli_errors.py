"""Mistakes on the command lines are one line on stderr and exit status 2, never a traceback (issue 24).

Each CLI is run as a subprocess, as a user runs it: ``python -m
sockjs_gevent``, the test server, each alone and with ``--workers 2``
(whose runner binds the socket itself), and the cluster runner.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from sockjs_gevent.workers import Supervisor
from testkit.serverproc import ROOT

MAIN = "sockjs_gevent"
TESTSERVER = "sockjs_gevent.testserver"
#: An address that is no interface of this host (TEST-NET-1, RFC 5737).
NOT_HERE = "192.0.2.1"


def run(module: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": ROOT},
        stdin=subprocess.DEVNULL,
    )


def assert_one_line(result: subprocess.CompletedProcess, *needles: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def target(module: str) -> list[str]:
    """The positional arguments a CLI needs (the test server serves its own services)."""
    return [] if module == TESTSERVER else ["examples/echo.py:echo"]


CLIS = [
    pytest.param((MAIN,), id="main"),
    pytest.param((TESTSERVER,), id="testserver"),
    pytest.param((MAIN, "--workers", "2"), id="main-workers"),
    pytest.param((TESTSERVER, "--workers", "2"), id="testserver-workers"),
]


@pytest.mark.parametrize("cli", CLIS)
@pytest.mark.parametrize(
    "args, needles",
    [
        (["--port", "99999"], ["argument --port: a port is 0 to 65535", "99999"]),
        (["--port", "-1"], ["argument --port: a port is 0 to 65535", "-1"]),
        (["--port", "http"], ["argument --port: expected a port number, got 'http'"]),
        (["--host", "example.invalid"], ["cannot listen on example.invalid:", "no such host or address"]),
        (["--host", NOT_HERE], [f"cannot listen on {NOT_HERE}:", "Cannot assign requested address"]),
        (["--request-timeout", "0"], ["argument --request-timeout: must be more than 0 seconds"]),
        (["--max-body-size", "-1"], ["argument --max-body-size: must be 0 or more bytes"]),
        (["--workers", "0"], ["argument --workers: must be at least 1"]),
    ],
)
def test_bad_address_or_limit(cli, args, needles):
    module, *extra = cli
    line = assert_one_line(run(module, *target(module), *extra, *args), *needles)
    assert line.startswith(f"python -m {module}: error: ")


@pytest.mark.parametrize("cli", CLIS)
def test_a_port_in_use(cli):
    module, *extra = cli
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(module, *target(module), *extra, "--port", str(port))
    assert_one_line(result, f"cannot listen on 127.0.0.1:{port}: the address is in use")


@pytest.mark.parametrize("module", [MAIN, TESTSERVER])
@pytest.mark.parametrize("server", ["httptools", "pywsgi"])
def test_tls_files_that_do_not_load(module, server, tmp_path):
    """Checked before anything listens; pywsgi alone would load them per connection and fail every handshake."""
    assert_one_line(
        run(module, *target(module), "--port", "0", "--server", server, "--certfile", "/nonexistent.pem"),
        "--certfile: cannot read /nonexistent.pem: No such file or directory",
    )
    not_pem = tmp_path / "cert.pem"
    not_pem.write_text("not a certificate\n")
    assert_one_line(
        run(module, *target(module), "--port", "0", "--server", server, "--certfile", str(not_pem)),
        f"--certfile: {not_pem} is not a PEM certificate chain with its private key",
    )
    assert_one_line(
        run(module, *target(module), "--port", "0", "--keyfile", str(not_pem)), "--keyfile needs --certfile"
    )


@pytest.mark.parametrize("module", [MAIN, TESTSERVER])
def test_an_access_log_that_cannot_be_opened(module, tmp_path):
    path = tmp_path / "no-such-dir" / "access.log"
    assert_one_line(
        run(module, *target(module), "--port", "0", "--access-log", str(path)),
        f"cannot open {path}: No such file or directory",
    )


@pytest.mark.parametrize("level", ["chatty", "10", ""])
def test_log_level_is_a_level_name(level):
    assert_one_line(
        run(MAIN, "examples/echo.py:echo", "--log-level", level),
        "argument --log-level: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    )


def test_log_level_in_any_case_is_taken():
    """(Checked by a later mistake: the level itself was accepted.)"""
    assert_one_line(
        run(MAIN, "examples/echo.py:echo", "--log-level", "debug", "--prefix", "bad"), "prefix must look like '/name'"
    )


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--heartbeat-delay", "0"], ["heartbeat_delay must be a positive number of seconds"]),
        (["--disconnect-delay", "-1"], ["disconnect_delay must be a positive number of seconds"]),
        (["--max-inbox-bytes", "5"], ["max_inbox_bytes must be an int of bytes at least max_message_size"]),
        (["--max-streams", "-1"], ["argument --max-streams: must be at least 1, got -1"]),
        (["--max-streams", "0"], ["argument --max-streams: must be at least 1, got 0"]),
        (["--websocket-compression", "window=9"], ["--websocket-compression: unknown compression setting 'window'"]),
    ],
)
def test_test_server_service_options(args, needles):
    line = assert_one_line(run(TESTSERVER, "--port", "0", *args), *needles)
    assert line.startswith("python -m sockjs_gevent.testserver: error: ")


@pytest.mark.parametrize("module", [MAIN, TESTSERVER, "sockjs_gevent.cluster"])
def test_an_unknown_flag_is_one_line_not_the_whole_usage(module):
    """argparse prints the usage (dozens of lines here) before its error; --help has it."""
    assert_one_line(run(module, *target(module), "--no-such-flag"), "unrecognized arguments: --no-such-flag")


def test_test_server_runner_checks_the_service_options_itself():
    """Its services are cheap to build, so the runner finds the mistake before it starts any worker."""
    assert_one_line(
        run(TESTSERVER, "--port", "0", "--workers", "2", "--heartbeat-delay", "0"),
        "heartbeat_delay must be a positive number of seconds",
    )


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--workers", "0"], ["argument --workers: must be at least 1, got 0"]),
        (["--base-port", "70000"], ["argument --base-port: a port is 0 to 65535"]),
        (["--base-port", "65535", "--workers", "2"], ["--base-port 65535 with 2 workers goes past port 65535"]),
    ],
)
def test_cluster_runner_arguments(args, needles):
    assert_one_line(run("sockjs_gevent.cluster", "examples/echo.py:echo", *args), *needles)


def test_cluster_runner_stops_when_its_workers_cannot_start():
    """Each worker exits 2 with "cannot import": restarting it cannot help, so the runner stops with status 2."""
    started = time.monotonic()
    result = run("sockjs_gevent.cluster", "nomod:app", "--workers", "2", "--base-port", "0", timeout=20)
    assert result.returncode == 2, result.stderr
    assert time.monotonic() - started < 10
    assert "cannot import 'nomod'" in result.stderr
    assert "restarting" not in result.stderr and "Traceback" not in result.stderr
    assert "exited with status 2 before it was ready" in result.stderr


def test_workers_runner_stops_when_its_workers_cannot_start():
    started = time.monotonic()
    result = run(MAIN, "nomod:app", "--workers", "2", "--port", "0", timeout=20)
    assert result.returncode == 2, result.stderr
    assert time.monotonic() - started < 10
    assert "cannot import 'nomod'" in result.stderr
    assert "Traceback" not in result.stderr and "restarting" not in result.stderr
    assert "exited with status 2 before it was ready" in result.stderr


# --- the rule both runners share (workers.Supervisor), with stand-in workers -----------------------------


class Scripted(Supervisor):
    """One worker: ``python -c SCRIPT --ready-fd N``, started again and again until ``starts`` runs were made."""

    restart_pause = 0.01

    def __init__(self, script: str, starts: int = 3) -> None:
        super().__init__(1, dict(os.environ))
        self.script = script
        self.starts = 0
        self.limit = starts

    def command(self, index: int) -> list[str]:
        return [sys.executable, "-c", self.script]

    def start(self, index: int) -> None:
        self.starts += 1
        super().start(index)

    def supervise(self, timeout: float = 15.0) -> int:
        """Watch until it stops by itself or made its starts; the exit status."""
        deadline = time.monotonic() + timeout
        self.start(0)
        while self._watch() and self.starts < self.limit:
            assert time.monotonic() < deadline, "still watching"
            time.sleep(0.01)
        self._stop(0, None)
        return self._wait_all()


SAY_READY = "import os, sys; os.write(int(sys.argv[sys.argv.index('--ready-fd') + 1]), b'ready')"


def test_status_2_before_ready_stops_everything():
    supervisor = Scripted("import sys; sys.exit(2)")
    assert supervisor.supervise() == 2
    assert supervisor.starts == 1 and supervisor.stopping


def test_status_2_after_ready_is_a_crash_and_restarted():
    """Once it served, a worker's exit says nothing about the configuration."""
    supervisor = Scripted(SAY_READY + "; sys.exit(2)")
    assert supervisor.supervise() == 0
    assert supervisor.starts == 3


def test_another_status_before_ready_is_restarted():
    supervisor = Scripted("import sys; sys.exit(1)")
    assert supervisor.supervise() == 0
    assert supervisor.starts == 3


def test_a_worker_that_is_ready_and_runs_is_left_alone():
    supervisor = Scripted(SAY_READY + "; import time; time.sleep(60)", starts=2)
    supervisor.start(0)
    deadline = time.monotonic() + 10
    while not supervisor.is_ready(0):
        assert time.monotonic() < deadline, "the worker never said it is ready"
        time.sleep(0.01)
    assert supervisor._watch() and supervisor.starts == 1
    supervisor._stop(0, None)
    assert supervisor._wait_all() == 0


def test_serve_refuses_a_list_of_services_saying_to_use_a_router():
    from sockjs_gevent import SockJS, serve

    with pytest.raises(TypeError, match=r"serve\(Router\(\[SockJS\("):
        serve([SockJS(lambda conn: None, prefix="/a")], port=0)


def test_a_target_taking_three_arguments_is_refused_in_one_line(tmp_path):
    app = tmp_path / "three.py"
    app.write_text("def app(environ, start_response, extra):\n    return []\n")
    result = subprocess.run(
        [sys.executable, "-m", "sockjs_gevent", f"{app}:app", "--port", "0"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "expected a WSGI app" in result.stderr, result.stderr
