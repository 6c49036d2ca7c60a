"""serve() sets logging up when the application has not, so a handler's traceback is readable (issue 24).

Each test runs a small program that calls serve() on port 0 with a
handler that raises, makes it fail once over a websocket, and reads what
the program wrote on stderr.
"""

from __future__ import annotations

import re
import sys

import pytest
from websockets.sync.client import connect

from testkit.serverproc import READY, START_TIMEOUT, Output, spawn, stop_process

PROGRAM = """
from gevent import monkey; monkey.patch_all()
import logging
{before}
from sockjs_gevent import SockJS, serve

def fails(conn):
    for message in conn:
        raise RuntimeError("the handler fails on purpose")

serve(SockJS(fails, prefix="/fails"), port=0{keywords})
"""

#: The first line of the handler's failure, as serve() formats it: time, level, logger name.
FORMATTED = re.compile(
    r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ERROR sockjs_gevent\.session: "
    r"handler fails failed \(transport=websocket remote=127\.0\.0\.1\); closing its session$"
)
TRACEBACK_END = "RuntimeError: the handler fails on purpose"
TIMESTAMPED = re.compile(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def fail_once(argv: list[str], traceback_end: str) -> str:
    """Run ``argv`` (a server of a /fails service on port 0), fail its handler once over a websocket, stop it
    (SIGTERM, exit status 0): everything it wrote on stderr."""
    process, out = spawn(argv, stderr_apart=True)
    assert process.stderr is not None
    err = Output(process.stderr)
    try:
        ready = out.wait_for(READY, START_TIMEOUT)
        with connect(f"ws://127.0.0.1:{ready.group(3)}/fails/0/a/websocket", open_timeout=5) as ws:
            assert ws.recv(timeout=5) == "o"
            ws.send('["boom"]')
            assert ws.recv(timeout=5) == 'c[1011,"Internal error"]'
        err.wait_for(re.escape(traceback_end))
        assert stop_process(process, 15) == 0
        err.wait_ended()
        return err.text()
    finally:
        stop_process(process, 0)  # (killed, if an assertion left it running)


def run(before: str = "", keywords: str = "") -> str:
    """Serve PROGRAM, fail its handler once, stop it: everything it wrote on stderr."""
    return fail_once([sys.executable, "-c", PROGRAM.format(before=before, keywords=keywords)], TRACEBACK_END)


def test_without_logging_configured_a_handler_traceback_is_formatted_at_info():
    log = run()
    assert FORMATTED.search(log), log
    assert "Traceback (most recent call last):" in log and TRACEBACK_END in log
    # INFO lines of the library appear too (the shutdown's), formatted the same way.
    assert re.search(r"(?m)^\S+ \S+ INFO sockjs_gevent\.server: shutting down: closed", log), log


def test_log_level_sets_the_level_of_the_logging_serve_sets_up():
    log = run(keywords=", log_level='warning'")
    assert FORMATTED.search(log), log
    assert " INFO " not in log, log


def test_logging_the_application_configured_keeps_its_format():
    log = run(before='logging.basicConfig(format="APP|%(levelname)s|%(name)s|%(message)s")')
    assert re.search(r"(?m)^APP\|ERROR\|sockjs_gevent\.session\|handler fails failed", log), log
    assert TRACEBACK_END in log
    assert not TIMESTAMPED.search(log), log  # nothing of serve()'s own format
    assert log.count("handler fails failed") == 1, log  # and no second handler writing it again


def test_a_handler_on_the_librarys_logger_counts_as_configured():
    """As under gunicorn's worker: the library's loggers have handlers of their own, the root has none."""
    log = run(before='logging.getLogger("sockjs_gevent").addHandler(logging.StreamHandler())')
    assert re.search(r"(?m)^handler fails failed", log), log
    assert not TIMESTAMPED.search(log), log
    assert log.count("handler fails failed") == 1, log


def test_the_command_line_configures_logging_once():
    """python -m sockjs_gevent sets logging up itself (--log-level): serve() adds nothing."""
    log = fail_once(
        [sys.executable, "-m", "sockjs_gevent", "sockjs_gevent.testserver:crash", "--prefix", "/fails", "--port", "0"],
        "RuntimeError: the /crash service fails on purpose",
    )
    assert re.search(r"(?m)^\S+ \S+ ERROR sockjs_gevent\.session: handler crash failed", log), log
    assert log.count("handler crash failed") == 1, log


@pytest.mark.parametrize(
    "level, error, message",
    [
        (
            "chatty",
            ValueError,
            r"log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL \(any case\) or "
            r"their logging\.\* numbers, got 'chatty'",
        ),
        (15, ValueError, r"got 15"),
        (True, TypeError, r"log_level must be a level name or number, got True"),
        (b"INFO", TypeError, r"got b'INFO'"),
    ],
)
def test_a_bad_log_level_is_refused_before_serving(level, error, message):
    from sockjs_gevent import SockJS, serve

    with pytest.raises(error, match=message):
        serve(SockJS(lambda conn: None), port=0, log_level=level)
