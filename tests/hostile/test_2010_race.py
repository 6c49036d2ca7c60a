"""A poll whose client hung up, and the next poll coming at once: 1002 (or a new session), never 2010.

docs/protocol.md section 5: a second receiving request while one is
attached gets ``c[2010,"Another connection still open"]``. But when the
attached request's client has just closed its socket, the server may not
have heard yet (the hang-up comes through the event loop) when the
client's next poll arrives; answering 2010 then closes a session the
client is still using. The server looks at the attached request's socket
before answering 2010.
"""

from __future__ import annotations

import socket
import uuid

import pytest

from testkit.rawhttp import HttpConnection

PREFIX = "/echo"
ANOTHER = b'c[2010,"Another connection still open"]'
ROUNDS = 200


def send_xhr(server, sid: str, transport: str = "xhr") -> socket.socket:
    conn = socket.create_connection((server.host, server.port), timeout=5)
    conn.sendall(f"POST {PREFIX}/000/{sid}/{transport} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    return conn


def body_of(conn: socket.socket) -> bytes:
    """The body of one Content-Length answer."""
    return HttpConnection(conn).read_response().body


@pytest.fixture
def quick_server(server_factory):
    return server_factory("--heartbeat-delay", "0.5", "--disconnect-delay", "5")


@pytest.mark.parametrize("waiting_transport", ["xhr", "xhr_streaming"])
def test_the_next_poll_after_a_hang_up_never_gets_2010(quick_server, waiting_transport):
    server = quick_server
    seen = {"1002": 0, "o": 0}
    done = 0
    while done < ROUNDS:
        sid = uuid.uuid4().hex
        with send_xhr(server, sid) as first:
            assert body_of(first) == b"o\n"
        waiting = send_xhr(server, sid, waiting_transport)
        with send_xhr(server, sid) as third:
            answer = body_of(third)
        if answer != ANOTHER + b"\n":
            waiting.close()  # the third came first and waited out a heartbeat: arrange it again
            continue
        waiting.close()  # the client of the waiting poll hangs up...
        with send_xhr(server, sid) as fourth:  # ...and polls again at once
            answer = body_of(fourth)
        assert answer != ANOTHER + b"\n", f"2010 after {done} rounds"
        assert answer in (b'c[1002,"Connection interrupted"]\n', b"o\n"), answer
        seen["1002" if answer.startswith(b"c") else "o"] += 1
        done += 1
    assert sum(seen.values()) == ROUNDS
