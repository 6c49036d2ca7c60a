"""Stats: counts by transport and kind, readable as JSON, never session ids."""

import json
import urllib.request

from sockjs_gevent.client import connect


def stats(server):
    with urllib.request.urlopen(server.url("/stats"), timeout=5) as response:
        assert response.headers["Content-Type"].startswith("application/json")
        return json.loads(response.read())


def test_stats_count_sessions_messages_and_problems(server_factory):
    server = server_factory()
    ws = connect(server.url("/echo"), transport="websocket")
    poll = connect(server.url("/echo"), transport="xhr-polling")
    for conn in (ws, poll):
        conn.send("a")
        assert conn.recv(timeout=5) == "a"
    crash = connect(server.url("/crash"), transport="websocket")
    crash.send("boom")
    assert crash.recv(timeout=5) is None
    echo = stats(server)["/echo"]
    assert echo["sessions_open"] == {"websocket": 1, "xhr-polling": 1}
    assert echo["sessions_opened"] == {"websocket": 1, "xhr-polling": 1}
    assert (echo["messages_in"], echo["messages_out"]) == (2, 2)
    assert stats(server)["/crash"]["problems"] == {"handler": 1}  # the name README and Prometheus use
    assert "errors" not in stats(server)["/crash"]
    assert stats(server)["/crash"]["sessions_closed"] == {"1011": 1}
    ws.close()
    poll.close()


def test_log_lines_name_transport_and_peer_but_not_the_session(server_factory):
    server = server_factory()
    conn = connect(server.url("/crash"), transport="xhr-streaming", session_id="secretsessionid")
    conn.send("boom")
    assert conn.recv(timeout=5) is None
    server.wait_for_log("handler .* failed")
    server.wait_for_log(r"RuntimeError: the /crash service fails on purpose")  # the traceback's last line
    log = server.log()
    assert "transport=xhr-streaming remote=127.0.0.1" in log
    assert "secretsessionid" not in log
