"""The command line: clear one-line errors with exit status 2, file targets, service options."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from websockets.sync.client import connect

from testkit.serverproc import ROOT, start_server


def run_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sockjs_gevent", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": ROOT},
    )


def assert_one_line_usage_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_file_path_target_is_served(tmp_path):
    app = tmp_path / "myapp.py"
    app.write_text("def shout(conn):\n    for m in conn:\n        conn.send(m.upper())\n")
    server = start_server(["-m", "sockjs_gevent", f"{app}:shout", "--prefix", "/shout", "--port", "0"])
    try:
        with connect(f"ws://{server.host}:{server.port}/shout/0/s/websocket") as ws:
            assert ws.recv() == "o"
            ws.send('["hey"]')
            assert ws.recv() == 'a["HEY"]'
    finally:
        server.stop()


@pytest.mark.parametrize(
    "args, needles",
    [
        (["no_such_module:x"], ["cannot import 'no_such_module'"]),
        (["./nowhere.py:x"], ["no such file: ./nowhere.py"]),
        (["examples.echo:nothing"], ["has no attribute 'nothing'"]),
        (["echo"], ["TARGET must look like 'module:name'"]),
        (["examples.echo:echo", "--prefix", "no-slash"], ["prefix must look like '/name'"]),
        (["examples.echo:echo", "--max-message-size", "0"], ["max_message_size must be a positive int"]),
        (
            ["examples.echo:echo", "--websocket-compression", "server_max_window_bits=8"],
            ["--websocket-compression: server_max_window_bits must be an int from 9 to 15"],
        ),
        (["examples.echo:echo", "--websocket-compression", "window=9"], ["unknown compression setting 'window'"]),
        (
            ["examples.chat.server:build_app", "--prefix", "/x"],
            ["--prefix applies to a handler function", "WSGI app: set it where"],
        ),
        (
            ["examples.chat.server:build_app", "--heartbeat-delay", "3"],
            ["--heartbeat-delay applies to a handler function"],
        ),
        (
            ["examples.chat.server:build_app", "--prefix", "/x", "--heartbeat-delay", "3"],
            ["--prefix and --heartbeat-delay apply to a handler function", "set them where"],
        ),
        (
            ["examples.chat.server:build_app", "--prefix", "/x", "--heartbeat-delay", "3", "--max-sessions", "9"],
            ["--prefix, --heartbeat-delay and --max-sessions apply to a handler function"],
        ),
    ],
)
def test_mistakes_are_one_line_and_exit_2(args, needles):
    assert_one_line_usage_error(run_cli(*args), *needles)


def test_a_port_in_use_is_one_line_and_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("examples.echo:echo", "--port", str(port))
    assert_one_line_usage_error(result, f"cannot listen on 127.0.0.1:{port}: the address is in use")


def test_service_options_on_the_command_line_reach_the_service():
    server = start_server(
        [
            "-m",
            "sockjs_gevent",
            "examples.echo:echo",
            "--prefix",
            "/echo",
            "--port",
            "0",
            "--heartbeat-delay",
            "0.2",
            "--no-websocket",
        ]
    )
    try:
        from testkit.rawhttp import http

        status, body, _ = http(server, "GET", "/echo/info")
        assert b'"websocket":false' in body
        status, body, _ = http(server, "POST", "/echo/0/hb/xhr")
        assert body == b"o\n"
        status, body, _ = http(server, "POST", "/echo/0/hb/xhr")  # nothing to say: a heartbeat after 0.2 s
        assert body == b"h\n"
    finally:
        server.stop()


@pytest.mark.parametrize(
    "flag, agreed",
    [
        ([], None),
        (["--websocket-compression"], "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"),
        (
            ["--websocket-compression", "server_no_context_takeover,server_max_window_bits=10"],
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
        ),
    ],
)
def test_websocket_compression_flag(flag, agreed):
    server = start_server(["-m", "sockjs_gevent", "examples.echo:echo", "--prefix", "/echo", "--port", "0", *flag])
    try:
        with connect(f"ws://{server.host}:{server.port}/echo/websocket") as ws:  # offers permessage-deflate
            assert ws.response.headers.get("Sec-WebSocket-Extensions") == agreed
            ws.send("hi " * 100)
            assert ws.recv(timeout=5) == "hi " * 100
    finally:
        server.stop()


def test_help_says_it_monkey_patches_and_shows_defaults():
    out = run_cli("--help").stdout
    assert "monkey-patches the standard library" in out and "default 8080" in out and "--heartbeat-delay" in out
    testserver = subprocess.run(
        [sys.executable, "-m", "sockjs_gevent.testserver", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout
    assert testserver.startswith("usage: python -m sockjs_gevent.testserver")


@pytest.mark.parametrize("module", ["sockjs_gevent", "sockjs_gevent.testserver", "sockjs_gevent.cluster"])
def test_version(module):
    import sockjs_gevent

    result = subprocess.run(
        [sys.executable, "-m", module, "--version"], cwd=ROOT, capture_output=True, text=True, timeout=20
    )
    kind = "compiled" if os.environ.get("SOCKJS_GEVENT_EXPECT_COMPILED") == "1" else "interpreted"
    expected = f"sockjs-gevent {sockjs_gevent.__version__} ({kind})\n"
    assert (result.returncode, result.stdout, result.stderr) == (0, expected, "")


def test_setup_py_takes_the_version_from_the_package(tmp_path):
    """One version number: setup.py reads sockjs_gevent/__init__.py (as text: it cannot import the package)."""
    for name in ("setup.py", "README.md", "requirements.txt"):
        (tmp_path / name).write_text(open(os.path.join(ROOT, name), encoding="utf-8").read(), encoding="utf-8")
    (tmp_path / "sockjs_gevent").mkdir()
    buildinfo = os.path.join("sockjs_gevent", "buildinfo.py")  # (setup.py reads the compiled build's list there)
    (tmp_path / buildinfo).write_text(open(os.path.join(ROOT, buildinfo), encoding="utf-8").read(), encoding="utf-8")
    init = open(os.path.join(ROOT, "sockjs_gevent", "__init__.py"), encoding="utf-8").read()
    assert '\n__version__ = "' in init
    (tmp_path / "sockjs_gevent" / "__init__.py").write_text(
        init.replace('\n__version__ = "', '\n__version__ = "9.8.7+test.'), encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "setup.py", "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("9.8.7+test.")


@pytest.mark.parametrize("module", ["sockjs_gevent", "sockjs_gevent.testserver", "sockjs_gevent.cluster"])
def test_help_shows_the_docstring_as_plain_text(module):
    """--help prints the module docstring: its reStructuredText ``code`` marks are left out."""
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0 and "``" not in result.stdout, result.stdout
    if module == "sockjs_gevent.testserver":
        assert "Also: /rooms (a room where each message goes to everyone else" in result.stdout


def test_every_service_flag_says_what_it_is_and_its_default():
    """Not just "default 131072": one phrase of what the option is, then its default."""
    import argparse
    from dataclasses import fields

    from sockjs_gevent.cli import add_option_arguments
    from sockjs_gevent.options import Options

    command = argparse.ArgumentParser()
    add_option_arguments(command)
    helps = {
        action.dest[len("option_") :]: action.help for action in command._actions if action.dest.startswith("option_")
    }
    assert set(helps) == {f.name for f in fields(Options)} - {"prefix"}
    for name, text in helps.items():
        assert not text.startswith("default"), (name, text)
        words = set(text.lower().replace("_", " ").split()) - {"default", "(default"}
        assert len(words) >= 4 and not set(name.split("_")) >= words, (name, text)
    assert helps["response_limit"] == (
        "bytes a streaming response carries before the client is made to open a new one (default 131072: 128 KiB)"
    )
    assert helps["heartbeat_delay"].endswith("(default 25)")
    assert helps["max_sessions"].endswith("0: no limit (default 0)")
    assert helps["max_queued_bytes"].endswith("(default 4194304: 4 MiB)")
