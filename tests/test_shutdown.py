"""SIGTERM: every client sees c[1001,"Server shutting down"], then the server exits 0."""

import signal

from sockjs_gevent.client import connect
from testkit.serverproc import start_testserver


def test_sigterm_closes_every_session_and_exits_cleanly():
    server = start_testserver()
    try:
        clients = [
            connect(server.url("/echo"), transport=transport)
            for transport in ("websocket", "xhr-streaming", "eventsource", "raw-websocket")
            for _ in range(5)
        ]
        for client in clients:
            client.send("before")
            assert client.recv(timeout=5) == "before"
        server.process.send_signal(signal.SIGTERM)
        for client in clients:
            assert client.recv(timeout=10) is None
            assert (client.close_code, client.close_reason) == (1001, "Server shutting down"), client
        assert server.wait_exited() == 0
        assert "Traceback" not in server.log()
    finally:
        server.stop()
