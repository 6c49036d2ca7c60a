"""serve() says when gevent has not patched the standard library, and fails when Redis needs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from testkit.serverproc import ROOT

PROGRAM = """
import signal, threading, os
{patch}
from sockjs_gevent import SockJS, serve
def stop(server):
    print("listening", flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
serve(SockJS(lambda conn: None), port=0, ready=stop, grace=0.1)
"""


def run(patch: bool, env: dict | None = None) -> subprocess.CompletedProcess:
    code = PROGRAM.format(patch="from gevent import monkey; monkey.patch_all()" if patch else "")
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": ROOT, **(env or {})},
    )


def test_an_unpatched_program_is_warned_how_to_fix_it():
    result = run(patch=False)
    assert result.returncode == 0, result.stderr
    assert "gevent has not monkey-patched the standard library" in result.stderr
    assert "monkey.patch_all()" in result.stderr


def test_a_patched_program_hears_nothing():
    result = run(patch=True)
    assert result.returncode == 0 and "monkey-patched" not in result.stderr, result.stderr


def test_redis_channels_without_patching_fail_at_start_not_at_each_session():
    result = run(patch=False, env={"SOCKJS_GEVENT_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode != 0
    assert "SOCKJS_GEVENT_REDIS_URL is set, but gevent has not monkey-patched" in result.stderr
    assert "listening" not in result.stdout


def test_serve_prints_its_address_without_logging_configured():
    code = PROGRAM.format(patch="from gevent import monkey; monkey.patch_all()").replace("ready=stop, ", "")
    code = code.replace(
        "serve(SockJS", "import gevent; gevent.spawn_later(0.5, os.kill, os.getpid(), signal.SIGTERM)\nserve(SockJS"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert result.stdout.startswith("sockjs-gevent listening on http://127.0.0.1:"), result


@pytest.mark.parametrize("keyword", ["debug", "use_reloader", "threaded"])
def test_flask_run_keywords_are_refused_with_what_to_do(keyword):
    from flask import Flask

    from flask_sockjs import SockJS

    app = Flask(__name__)
    with pytest.raises(TypeError, match=rf"not app.run\(\)'s {keyword}: it serves on gevent"):
        SockJS(app).run(app, port=0, **{keyword: True})


def test_serve_refuses_unknown_keywords_before_serving():
    from sockjs_gevent import SockJS, serve

    with pytest.raises(TypeError, match="timeout"):
        serve(SockJS(lambda conn: None), port=0, timeout=10)


def test_serve_given_a_handler_says_to_wrap_it():
    from sockjs_gevent import serve

    def echo(conn):
        pass

    with pytest.raises(TypeError, match=r"wrap it in a service, serve\(SockJS\(echo, prefix='/echo'\)\)"):
        serve(echo, port=0)


def test_the_test_client_takes_only_real_transport_names():
    from sockjs_gevent import SockJS
    from sockjs_gevent.testing import HandlerClient

    with pytest.raises(ValueError, match="xhr-streaming"):
        HandlerClient(SockJS(lambda conn: None), transport="xhr_streaming")
