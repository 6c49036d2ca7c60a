"""The per-message shortcuts of a websocket: each does what the long way does, and ends the connection the same way."""

from __future__ import annotations

import socket

import gevent
import gevent.socket
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from sockjs_gevent.inbox import Inbox
from sockjs_gevent.websocket import Engine, EventLoopWebSocket

from .test_websocket_engine import MAX_SIZE, actions, client_frame


def masked(opcode: Opcode, data: bytes) -> bytes:
    return Frame(opcode, data).serialize(mask=True, extensions=[])


TEXTS = ["a", 'a["x"]', "é" * 200, "z" * 70000]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions, st.lists(st.sampled_from(TEXTS), max_size=3))
def test_frame_now_writes_what_send_texts_then_output_would(steps, texts):
    """Whatever the client sent first, ``frame_now`` is the long way's bytes, or None having done nothing."""
    wire = [b"".join(client_frame(kind, text, n)) for kind, text, n in steps]

    def engine() -> Engine:
        made = Engine(None, max_size=MAX_SIZE)
        for chunk in wire:
            made.feed(chunk)
        return made

    quick, slow = engine(), engine()
    framed = quick.frame_now(texts)
    if framed is None:
        assert quick.output() == slow.output()  # (nothing was taken from it)
        assert quick.send_texts(texts) == slow.send_texts(texts)
    else:
        assert slow.send_texts(texts)
        assert slow.output() == (framed, False)
    assert quick.output() == slow.output()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_a_plain_engine_is_never_over(steps):
    engine = Engine(None, max_size=MAX_SIZE)
    for kind, text, n in steps:
        for chunk in client_frame(kind, text, n):
            engine.feed(chunk)
            assert not (engine.plain and engine.over)
            engine.output()
    engine.feed(b"")
    assert engine.over and not engine.plain


def test_frame_now_lets_a_pending_pong_go_first():
    engine = Engine(ServerProtocol(state=State.OPEN, max_size=MAX_SIZE))
    engine.feed(masked(Opcode.PING, b"p"))
    assert engine.frame_now(["x"]) is None  # the protocol may have output: the long way
    assert engine.output() == (b"\x8a\x01p", False)
    assert engine.frame_now(["x"]) == b"\x81\x01x"
    engine.close(1000, "")
    assert engine.frame_now(["x"]) is None and not engine.send_texts(["x"])


# -- the inbox's waiting reader ---------------------------------------------------------------


def test_a_reader_killed_while_waiting_leaves_the_message_for_the_next():
    inbox = Inbox()
    first = gevent.spawn(inbox.get)
    gevent.idle()
    first.kill(block=False)  # the kill is scheduled ...
    inbox.put_many(["kept"])  # ... then the wake: it finds the reader gone
    gevent.idle()
    assert first.dead and inbox.get(timeout=1) == "kept"


def test_a_second_reader_without_a_timeout_waits_too():
    inbox = Inbox()
    readers = [gevent.spawn(inbox.get) for _ in range(3)]
    gevent.idle()
    inbox.put_many(["1", "2", "3"])
    gevent.joinall(readers, timeout=1)
    assert sorted(reader.value for reader in readers) == ["1", "2", "3"]


def test_a_reader_comes_back_to_wait_after_a_put_it_did_not_get():
    inbox = Inbox()
    reader = gevent.spawn(inbox.get)
    gevent.idle()
    inbox.put_many(["x"])
    assert inbox.get(timeout=1) == "x"  # taken before the waiting reader ran
    gevent.idle()
    assert not reader.ready()  # it woke, found nothing, waits again
    inbox.close()
    assert reader.get(timeout=1) is None


# -- the end of an evented websocket ----------------------------------------------------------


class Recorded(socket.socket):
    """A socket that notes its shutdowns and its close."""

    calls: list

    def shutdown(self, how: int) -> None:
        self.calls.append(("shutdown", how))
        super().shutdown(how)

    def close(self) -> None:
        self.calls.append(("close",))
        super().close()


class Reader:
    def __init__(self, ws: EventLoopWebSocket, release: bool) -> None:
        self.ws, self.release, self.messages, self.ended = ws, release, [], False

    def on_message(self, text: str) -> None:
        self.messages.append(text)

    def on_end(self) -> None:
        self.ended = True
        if self.release:
            self.ws.release()


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair()
    sock = Recorded(fileno=ours.detach())
    sock.calls = []
    sock.setblocking(False)
    client = gevent.socket.socket(fileno=theirs.detach())  # (it waits in the hub: the server side runs meanwhile)
    client.settimeout(5)
    yield sock, client
    client.close()
    if sock.fileno() != -1:
        sock.close()


def read_to_eof(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_a_client_close_is_echoed_and_the_socket_closed_with_no_shutdown_first(pair):
    sock, client = pair
    ws = EventLoopWebSocket(Engine(None, max_size=MAX_SIZE), sock)
    reader = Reader(ws, release=True)
    ws.start(reader)
    client.sendall(masked(Opcode.TEXT, b"hi") + masked(Opcode.CLOSE, b"\x03\xe8bye"))
    assert read_to_eof(client) == b"\x88\x05\x03\xe8bye"  # the echo, then the FIN (close() sent it)
    assert reader.messages == ["hi"] and reader.ended
    assert sock.calls == [("close",)]


def test_a_reader_that_keeps_the_socket_open_still_sends_the_fin(pair):
    sock, client = pair
    ws = EventLoopWebSocket(Engine(None, max_size=MAX_SIZE), sock)
    reader = Reader(ws, release=False)
    ws.start(reader)
    client.sendall(masked(Opcode.CLOSE, b""))
    assert read_to_eof(client) == b"\x88\x00"
    assert reader.ended and sock.calls == [("shutdown", socket.SHUT_WR)]
    ws.release()
    assert sock.calls == [("shutdown", socket.SHUT_WR), ("close",)]


def test_after_a_close_we_start_the_write_side_is_shut_while_the_socket_waits_for_the_client(pair):
    sock, client = pair
    ws = EventLoopWebSocket(Engine(None, max_size=MAX_SIZE), sock)
    reader = Reader(ws, release=True)
    ws.start(reader)
    ws.close(1000, "")
    assert client.recv(4096) == b"\x88\x02\x03\xe8"
    assert sock.calls == []  # open, waiting for the client's answer
    client.sendall(masked(Opcode.CLOSE, b"\x03\xe8"))
    assert read_to_eof(client) == b""  # the FIN: a shutdown, the socket still open for the client's own
    assert not reader.ended and sock.calls == [("shutdown", socket.SHUT_WR)]
    client.shutdown(socket.SHUT_WR)
    with gevent.Timeout(5):
        while not reader.ended:
            gevent.sleep(0.01)
    assert reader.ended and sock.calls == [("shutdown", socket.SHUT_WR), ("close",)]
