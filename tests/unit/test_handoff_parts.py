"""The parts of the hand-off on their own: which slot holds a session, claiming slots with file locks, the message."""

from __future__ import annotations

import array
import os
import socket
import uuid
from collections import Counter

import pytest

from sockjs_gevent.handoff import SlotError, Slots, session_route, slot_of, wire


@pytest.mark.parametrize(
    "path, route",
    [
        ("/echo/000/abc/xhr", ("abc", "xhr")),
        ("/000/abc/xhr_send", ("abc", "xhr_send")),
        ("/a/b/chat/123/s-1/xhr_streaming", ("s-1", "xhr_streaming")),
        ("/echo/000/abc/eventsource", ("abc", "eventsource")),
        ("/echo/000/abc/htmlfile", ("abc", "htmlfile")),
        ("/echo/000/abc/jsonp", ("abc", "jsonp")),
        ("/echo/000/abc/jsonp_send", ("abc", "jsonp_send")),
    ],
)
def test_session_requests_are_recognised_under_any_prefix(path, route):
    assert session_route(path) == route


@pytest.mark.parametrize(
    "path",
    [
        "/echo/000/abc/websocket",  # its one connection is the whole session: any worker holds it
        "/echo/info",
        "/echo",
        "/",
        "",
        "/echo/000/abc/xhr/",
        "/echo/000//xhr",
        "/echo//abc/xhr",
        "/echo/0.0/abc/xhr",
        "/echo/000/a.c/xhr",
        "000/abc/xhr",
        "/echo/iframe.html",
        "/xhr",
    ],
)
def test_everything_else_is_served_where_it_lands(path):
    assert session_route(path) is None


def test_every_worker_computes_the_same_slot_and_sessions_spread_evenly():
    assert slot_of("abc", 3) == slot_of("abc", 3) == 0x352441C2 % 3  # CRC-32, not Python's per-process hash
    counts = Counter(slot_of(uuid.uuid4().hex, 4) for _ in range(4000))
    assert set(counts) == {0, 1, 2, 3}
    assert all(800 < n < 1200 for n in counts.values()), counts


def test_slots_are_taken_in_order_held_until_released_and_taken_back(tmp_path):
    directory = str(tmp_path / "slots")
    first, second, third = Slots(directory, 2), Slots(directory, 2), Slots(directory, 2)
    assert (first.claim(), second.claim(), third.claim()) == (0, 1, None)
    open(first.socket_path(0), "w").close()
    first.release()
    assert not os.path.exists(first.socket_path(0))  # peers see the slot free at once
    assert third.claim() == 0
    second.release()
    third.release()


def test_a_slot_directory_open_to_others_is_refused(tmp_path):
    directory = tmp_path / "slots"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    with pytest.raises(SlotError, match="chmod 700"):
        Slots(str(directory), 2)


def test_a_directory_too_long_for_a_socket_path_is_refused(tmp_path):
    with pytest.raises(SlotError, match="too long"):
        Slots(str(tmp_path / ("d" * 120)), 2)


@pytest.mark.parametrize("count", [0, -1, True, 1.5])
def test_the_number_of_slots_is_checked(tmp_path, count):
    with pytest.raises(ValueError, match="integer >= 1"):
        Slots(str(tmp_path / "slots"), count)


@pytest.mark.parametrize(
    "address, family",
    [
        (("127.0.0.1", 51000), socket.AF_INET),
        (("::1", 51000, 0, 0), socket.AF_INET6),
        ("", socket.AF_UNIX),
        (None, 0),  # not said: the receiver asks the socket
    ],
)
def test_a_message_carries_the_descriptor_the_listener_the_peer_and_the_bytes(address, family):
    sender, receiver = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    carried, kept = socket.socketpair()
    with sender, receiver, carried, kept:
        wire.send(sender, carried.fileno(), 3, b"GET / HTTP/1.1\r\n\r\nrest", address)
        handed = wire.receive(receiver)
        assert isinstance(handed, wire.Handed)
        assert (handed.listener, handed.data, handed.family) == (3, b"GET / HTTP/1.1\r\n\r\nrest", family)
        assert handed.address == (address[:2] if isinstance(address, tuple) else address)
        with socket.socket(fileno=handed.fd) as got:  # the same connection: what goes in comes out of ``kept``
            got.sendall(b"over")
            assert kept.recv(10) == b"over"


def test_junk_on_a_slot_socket_is_named_and_its_descriptors_closed():
    sender, receiver = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with sender, receiver:
        sender.send(b"hello")
        assert wire.receive(receiver) == "0 descriptors in one message"
        a, b = socket.socketpair()
        with a, b:
            sender.sendmsg(
                [b"XXXX\x00\x00\x00"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [a.fileno()]))]
            )
            assert wire.receive(receiver) == "not a hand-off message"
        sender.close()
        assert wire.receive(receiver) is None
