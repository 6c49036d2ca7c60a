"""``SocketWriter.hold``: bytes that go out first, in the same send as the next write (a 101 with the first frame)."""

from __future__ import annotations

from typing import Any

import pytest

from sockjs_gevent.sockwriter import SocketWriter


class Owner:
    def __init__(self) -> None:
        self.news: list[str] = []

    def _drained(self) -> None:
        self.news.append("drained")

    def _lost(self) -> None:
        self.news.append("lost")


class Sock:
    """Records each send; takes at most ``room`` bytes of one (then BlockingIOError), or fails."""

    def __init__(self, room: int = 1 << 20, error: type[OSError] | None = None) -> None:
        self.sends: list[bytes] = []
        self.room = room
        self.error = error

    def send(self, data: Any) -> int:
        if self.error is not None:
            raise self.error("gone")
        if not self.room:
            raise BlockingIOError()
        taken = bytes(data[: self.room])
        self.sends.append(taken)
        self.room -= len(taken)
        return len(taken)

    def fileno(self) -> int:
        return 0


def writer(sock: Sock) -> tuple[SocketWriter, Owner]:
    owner = Owner()
    return SocketWriter(owner, sock), owner  # type: ignore[arg-type]


def test_held_bytes_go_out_with_the_next_write_in_one_send():
    sock = Sock()
    w, _ = writer(sock)
    w.hold(b"HEAD")
    assert sock.sends == [] and w.buffered == 0
    w.write(b"o")
    w.write(b"next")
    assert sock.sends == [b"HEADo", b"next"]


def test_send_held_sends_them_alone_once():
    sock = Sock()
    w, _ = writer(sock)
    w.send_held()  # nothing held: no send at all
    w.hold(b"HEAD")
    w.send_held()
    w.send_held()
    w.write(b"o")
    assert sock.sends == [b"HEAD", b"o"]


def test_what_the_socket_does_not_take_of_them_waits_like_any_write(monkeypatch):
    started = []

    class Watcher:
        def start(self, callback):
            started.append(callback)

        def stop(self):
            pass

        def close(self):
            pass

    class Loop:
        def io(self, fileno, events):
            return Watcher()

    class Hub:
        loop = Loop()

    monkeypatch.setattr("sockjs_gevent.sockwriter.gevent.get_hub", lambda: Hub())
    sock = Sock(room=3)
    w, owner = writer(sock)
    w.hold(b"HEAD")
    w.write(b"o")
    assert sock.sends == [b"HEA"] and w.buffered == 2 and len(started) == 1
    sock.room = 100
    started[0]()
    assert sock.sends == [b"HEA", b"Do"] and w.buffered == 0 and owner.news == ["drained"]


def test_a_broken_or_discarded_writer_sends_nothing_held():
    sock = Sock()
    w, _ = writer(sock)
    w.hold(b"HEAD")
    w.discard()
    w.send_held()
    w.write(b"o")
    assert sock.sends == []
    w.hold(b"again")
    w.send_held()
    assert sock.sends == []


@pytest.mark.parametrize("error", [BrokenPipeError, ConnectionResetError])
def test_a_failed_send_of_held_bytes_is_the_connection_lost(error):
    w, owner = writer(Sock(error=error))
    w.hold(b"HEAD")
    w.send_held()
    assert w.broken and owner.news == ["lost"]
