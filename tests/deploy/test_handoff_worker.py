"""One worker of two on a port, the test holding the other slot: what the worker hands over, and when it cannot.

The test binds the port, starts one worker process (``--listen-fd``) that
takes slot 0, and takes slot 1 itself. A request for a session that slot 1
holds must then reach the test: the client's connection and the bytes the
worker read of it, over slot 1's socket. With nobody on slot 1 the worker
answers within the hand-off timeout. Hostile clients cost the worker no
more than a local request would.
"""

from __future__ import annotations

import array
import os
import select
import socket
import sys
import time
from collections.abc import Iterator

import pytest

from sockjs_gevent.handoff import DIRECTORY_ENV, SLOTS_ENV, Slots, wire
from testkit.rawhttp import HttpConnection, Response
from testkit.serverproc import spawn
from tests.deploy.gunicornproc import session_in_slot

PREFIX = "/echo"


class Worker:
    """``python -m sockjs_gevent.testserver`` as worker 0 of 2 on a socket the test bound."""

    def __init__(self, directory: str, *extra: str) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.process, self.out = spawn(
            [
                sys.executable,
                "-m",
                "sockjs_gevent.testserver",
                "--workers",
                "2",
                "--listen-fd",
                str(self.listener.fileno()),
                *extra,
            ],
            {SLOTS_ENV: "2", DIRECTORY_ENV: directory},
            pass_fds=(self.listener.fileno(),),
        )
        self.out.wait_for(r"worker \d+ serving", 20)
        assert "holds slot 0 of 2" in self.out.text()

    def connect(self) -> socket.socket:
        client = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(10)
        self.out.wait_ended()
        self.listener.close()
        return self.out.text()


class Slot1:
    """The test in slot 1: holds the slot's lock and, once ``listen()`` was called, its socket."""

    def __init__(self, directory: str) -> None:
        self.slots = Slots(directory, 2)
        assert self.slots.claim() == 1
        self.sock: socket.socket | None = None

    def listen(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.bind(self.slots.socket_path(1))
        self.sock.listen(8)
        self.sock.settimeout(5)

    def accept(self) -> socket.socket:
        assert self.sock is not None
        peer, _ = self.sock.accept()
        peer.settimeout(5)
        return peer

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.slots.release()


@pytest.fixture
def pair(tmp_path) -> Iterator[tuple[Worker, Slot1]]:
    directory = str(tmp_path / "slots")
    worker = Worker(directory, "--request-timeout", "1")
    slot1 = Slot1(directory)
    yield worker, slot1
    slot1.close()
    log = worker.stop()
    assert "Traceback" not in log, log


def request(path: str, body: bytes = b"", method: str = "POST") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def read_answer(client: socket.socket) -> Response:
    """One whole answer, head and body, of the worker's own."""
    return HttpConnection(client).read_response()


def test_a_foreign_session_request_reaches_its_slot_with_the_bytes_read(pair):
    worker, slot1 = pair
    slot1.listen()
    sid = session_in_slot(1)
    client = worker.connect()
    sent = request(f"{PREFIX}/000/{sid}/xhr_send", b'["hello"]')
    client.sendall(sent)
    peer = slot1.accept()
    handed = wire.receive(peer)
    assert isinstance(handed, wire.Handed)
    assert handed.data == sent and handed.listener == 0
    assert handed.address == client.getsockname() and handed.family == socket.AF_INET
    # the descriptor is the client's connection: answer through it
    with socket.socket(fileno=handed.fd) as conn:
        assert conn.getpeername() == client.getsockname()
        conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert client.recv(100).startswith(b"HTTP/1.1 204")
    client.close()


def test_local_sessions_stay_and_the_connection_moves_on_its_first_foreign_request(pair):
    worker, slot1 = pair
    slot1.listen()
    local, foreign = session_in_slot(0), session_in_slot(1)
    client = worker.connect()
    client.sendall(request(f"{PREFIX}/000/{local}/xhr"))
    assert read_answer(client).body.endswith(b"o\n")  # served by the worker itself
    client.sendall(request(f"{PREFIX}/000/{foreign}/xhr"))
    handed = wire.receive(slot1.accept())
    assert isinstance(handed, wire.Handed) and handed.data == request(f"{PREFIX}/000/{foreign}/xhr")
    os.close(handed.fd)


def test_pipelined_requests_behind_a_foreign_one_travel_unparsed(pair):
    worker, slot1 = pair
    slot1.listen()
    local, foreign = session_in_slot(0), session_in_slot(1)
    client = worker.connect()
    first, second, third = (
        request(f"{PREFIX}/000/{local}/xhr"),
        request(f"{PREFIX}/000/{foreign}/xhr"),
        request(f"{PREFIX}/000/{local}/xhr_send", b'["x"]'),
    )
    client.sendall(first + second + third)
    assert read_answer(client).body.endswith(b"o\n")
    handed = wire.receive(slot1.accept())
    assert isinstance(handed, wire.Handed) and handed.data == second + third
    os.close(handed.fd)


def test_a_stalled_body_is_handed_over_at_once_and_costs_the_worker_nothing(pair):
    worker, slot1 = pair
    slot1.listen()
    client = worker.connect()
    head = (
        f"POST {PREFIX}/000/{session_in_slot(1)}/xhr_send HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".encode()
    )
    client.sendall(head + b'["only a bit')
    started = time.monotonic()
    handed = wire.receive(slot1.accept())
    assert time.monotonic() - started < 1.0  # not held until the body is in, nor until a timeout
    assert isinstance(handed, wire.Handed) and handed.data == head + b'["only a bit'
    os.close(handed.fd)
    other = worker.connect()  # and the worker serves on
    other.sendall(request(f"{PREFIX}/000/{session_in_slot(0)}/xhr"))
    assert read_answer(other).body.endswith(b"o\n")


def test_a_huge_head_is_refused_by_the_worker_that_read_it(pair):
    worker, slot1 = pair
    slot1.listen()
    client = worker.connect()
    client.sendall(
        f"POST {PREFIX}/000/{session_in_slot(1)}/xhr HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 20000}\r\n\r\n".encode()
    )
    assert read_answer(client).status == 431
    slot1.sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        slot1.accept()  # nothing was handed over


@pytest.mark.parametrize("transport, status", [("xhr", 503), ("xhr_streaming", 503), ("xhr_send", 404)])
def test_with_nobody_on_the_owners_slot_the_answer_comes_within_a_second(pair, transport, status):
    worker, slot1 = pair  # slot 1 held (locked) but not listening: its worker is gone
    client = worker.connect()
    started = time.monotonic()
    client.sendall(
        request(f"{PREFIX}/000/{session_in_slot(1)}/{transport}", b'["x"]' if transport == "xhr_send" else b"")
    )
    answer = read_answer(client)
    assert answer.status == status, answer
    assert time.monotonic() - started < 1.5  # the hand-off timeout (1 s) and the answer


def test_a_full_owner_queue_gets_an_answer_and_other_clients_are_served(pair):
    worker, slot1 = pair
    slot1.listen()  # accepts (the kernel does) but the test never reads: the queue fills
    clients = []
    big = b"[" + b'"' + b"x" * 60000 + b'"]'
    for _ in range(40):  # ~2.4 MB of hand-offs, past the socket buffers
        client = worker.connect()
        client.sendall(request(f"{PREFIX}/000/{session_in_slot(1)}/xhr_send", big))
        clients.append(client)
    answered = []
    deadline = time.monotonic() + 5
    while not answered and time.monotonic() < deadline:
        ready, _, _ = select.select(clients, [], [], 0.2)
        answered += [client.recv(100) for client in ready]
    assert answered and answered[0].startswith(b"HTTP/1.1 404")  # not taken in time: a send to a gone session
    other = worker.connect()
    other.sendall(request(f"{PREFIX}/000/{session_in_slot(0)}/xhr"))
    assert read_answer(other).body.endswith(b"o\n")


def test_junk_and_dead_connections_sent_to_a_worker_are_dropped(pair, tmp_path):
    worker, _ = pair
    path = os.path.join(str(tmp_path / "slots"), "slot-0.sock")
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sender.connect(path)
    sender.send(b"not a hand-off")  # no descriptor
    gone = socket.create_connection(("127.0.0.1", worker.port))  # (accepted by the worker: fine, it idles)
    dead_server, dead_client = socket.socketpair()
    dead_client.close()
    sender.sendmsg(
        wire.pack(0, request(f"{PREFIX}/000/{session_in_slot(0)}/xhr")),
        [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [dead_server.fileno()]))],
    )
    sender.sendmsg(
        wire.pack(7, b"", ("127.0.0.1", 1)), [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [gone.fileno()]))]
    )
    dead_server.close()
    sender.close()
    gone.close()
    worker.out.wait_for(r"dropped a hand-off: 0 descriptors")
    other = worker.connect()  # the worker serves on
    other.sendall(request(f"{PREFIX}/000/{session_in_slot(0)}/xhr"))
    assert read_answer(other).body.endswith(b"o\n")
