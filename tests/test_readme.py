"""The README's code blocks run, and do what the README says they do.

Every ```python block must follow a ``<!-- readme-test: NAME -->`` marker;
NAME picks the check below. ``serve()`` and ``sockjs.run()`` are replaced
by a recorder, so a block that would serve forever hands its app over
instead, and the check drives it.
"""

from __future__ import annotations

import os
import re
import textwrap
from typing import Any, Callable

import pytest

from serverproc import start_testserver
from sockjs_gevent.testing import HandlerClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCK = re.compile(r"(?:<!-- readme-test: ([\w-]+) -->\s*\n)?( *)```python\n(.*?)```", re.S)


def readme_blocks() -> list[tuple[str, str]]:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    return [(name or "", textwrap.dedent(code)) for name, _, code in BLOCK.findall(text)]


def test_every_python_block_is_checked():
    names = [name for name, _ in readme_blocks()]
    assert "" not in names, "a ```python block in the README has no <!-- readme-test: NAME --> marker"
    assert set(names) == set(CHECKS), (names, sorted(CHECKS))


def block(name: str) -> str:
    return next(code for n, code in readme_blocks() if n == name)


def run_block(code: str, monkeypatch: pytest.MonkeyPatch, namespace: dict | None = None) -> dict[str, Any]:
    """Execute a block; serve()/run() record their app instead of serving."""
    import flask_sockjs
    import sockjs_gevent

    from gevent import monkey

    served: list[Any] = []
    monkeypatch.setattr(monkey, "patch_all", lambda *a, **k: None)  # not inside pytest's own process
    monkeypatch.setattr(sockjs_gevent, "serve", lambda app, *a, **k: served.append(app))
    monkeypatch.setattr(flask_sockjs.SockJS, "run", lambda self, app, *a, **k: served.append(app))
    namespace = namespace if namespace is not None else {"__name__": "readme"}
    exec(compile(code, "README.md", "exec"), namespace)
    namespace["_served"] = served
    return namespace


def check_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run_block(block("echo"), monkeypatch)
    (app,) = ns["_served"]
    assert app.prefix == "/echo"
    with HandlerClient(app) as client:
        client.send("hello", "again")
        assert [client.recv(), client.recv()] == ["hello", "again"]


def check_flask(monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run_block(block("flask"), monkeypatch)
    assert ns["_served"] == []  # sockjs.run() only under __main__: importing the app must not serve
    run_block(block("flask-tests"), monkeypatch, ns)
    ns["test_chat_needs_login"]()
    ns["test_chat_echoes_for_logged_in_users"]()


def check_flask_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    check_flask(monkeypatch)  # the tests block runs against the app block


def check_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    from sockjs_gevent import SockJS

    ns = run_block(block("channels"), monkeypatch)
    service = SockJS(ns["chat"], "/readme-chat")
    with HandlerClient(service) as a:
        with HandlerClient(service) as b:
            assert a.recv().endswith("joined (2 here)")  # b's arrival; b does not hear itself
            b.send("hi all")
            assert a.recv() == b.recv() == "hi all"
            ns["whisper"](a.session.connection.id, "psst")
            assert a.recv() == "psst"


def check_multiplex(monkeypatch: pytest.MonkeyPatch) -> None:
    from sockjs_gevent.multiplex import Multiplexer
    from sockjs_gevent.multiplex.testing import MultiplexClient

    ns = run_block(block("multiplex"), monkeypatch)
    (app,) = ns["_served"]
    assert app.prefix == "/mux" and isinstance(app.handler, Multiplexer)
    assert app.handler.names == ["chat", "ticker"]
    import gevent

    from sockjs_gevent.channels import default_hub

    with MultiplexClient(app) as a, MultiplexClient(app) as b:
        assert len(a.subscribe("ticker").recv()) == len("12:34:56")
        a_chat, b_chat = a.subscribe("chat"), b.subscribe("chat")
        lobby = default_hub().channel("lobby", scope="/mux")
        for _ in range(100):  # let both stream handlers run up to their join
            if len(lobby) == 2:
                break
            gevent.sleep(0)
        assert len(lobby) == 2
        a_chat.send("hi b")
        assert b_chat.recv() == "hi b"
        # the publish reached every member at once: nothing of it for its sender
        assert not [m for m in a.client.session.take_messages() if m.startswith("msg,chat,")]


def check_multiplex_flask(monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run_block(block("multiplex-flask"), monkeypatch)
    ns["test_chat"]()
    with ns["sockjs"].test_client(ns["app"], "/mux") as client:
        assert client.refused  # before_open applies to the whole connection


def check_client(monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_testserver()
    try:
        code = block("client").replace("http://127.0.0.1:8080", server.base_url)
        printed: list[str] = []
        run_block(code, monkeypatch, {"__name__": "readme", "print": printed.append})
        assert printed == ["hello"]
    finally:
        server.stop()


def check_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client.parser import text_string_to_metric_families
    from werkzeug.test import Client

    ns = run_block(block("metrics"), monkeypatch)
    (app,) = ns["_served"]
    with HandlerClient(ns["service"]) as conn:
        conn.send("hi")
        assert conn.recv() == "hi"
        response = Client(app).get("/metrics")
        assert response.status_code == 200
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(response.get_data(as_text=True))
                   for s in family.samples}
    assert samples["sockjs_sessions_open", (("service", "/echo"), ("transport", "websocket"))] == 1
    assert samples["sockjs_messages_received_total", (("service", "/echo"),)] == 1
    assert "process_start_time_seconds" in {name for name, _ in samples}
    assert Client(app).get("/other").status_code == 404


def check_compression(monkeypatch: pytest.MonkeyPatch) -> None:
    from sockjs_gevent.client import connect
    from sockjs_gevent.http import HttpServer

    ns = run_block(block("compression"), monkeypatch)
    (app,) = ns["_served"]
    server = HttpServer(("127.0.0.1", 0), app)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with connect(base + "/chat", transport="websocket", compression=True) as chat:
            chat.send("hi")
            assert chat.recv(timeout=5) == "hi" and chat.transport.compressed
        with connect(base + "/feed", transport="raw-websocket", compression=True) as feed:
            feed.send("hi")
            assert feed.recv(timeout=5) == "hi"
            (agreed,) = feed.transport._engine.extensions
            assert agreed.remote_no_context_takeover and agreed.local_no_context_takeover
    finally:
        server.stop(timeout=1)


CHECKS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "compression": check_compression,
    "echo": check_echo,
    "flask": check_flask,
    "flask-tests": check_flask_tests,
    "channels": check_channels,
    "client": check_client,
    "multiplex": check_multiplex,
    "multiplex-flask": check_multiplex_flask,
    "metrics": check_metrics,
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_readme_block(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    CHECKS[name](monkeypatch)
