"""``peerwatch.detach_socket``: gevent's socket becomes a plain non-blocking one, without asking the kernel again.

The event-loop websocket and the lent sockets rely on what it returns:
timeout 0.0, and ``recv``/``send`` that raise ``BlockingIOError`` rather
than wait.
"""

from __future__ import annotations

import _socket
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import textwrap

import gevent.socket
import pytest

from sockjs_gevent.peerwatch import detach_socket


@pytest.fixture
def tcp_pair():
    """A connected TCP pair: gevent's socket (the server side, as a server accepts it) and a plain client."""
    listener = gevent.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    listener.close()
    yield accepted, client
    accepted.close()
    client.close()


def nonblocking_flag(fileno: int) -> bool:
    return bool(fcntl.fcntl(fileno, fcntl.F_GETFL) & os.O_NONBLOCK)


def test_the_taken_socket_is_plain_non_blocking_and_the_same_kind(tcp_pair):
    accepted, client = tcp_pair
    fileno = accepted.fileno()
    family, kind, proto = accepted.family, accepted.type, accepted.proto
    taken = detach_socket(accepted)
    try:
        assert type(taken) is _socket.socket
        assert taken.fileno() == fileno and accepted.fileno() == -1  # gevent's object let go of it
        assert (taken.family, taken.type, taken.proto) == (family, kind, proto)
        assert taken.type == socket.SOCK_STREAM  # (SOCK_NONBLOCK is not part of the type it reports)
        assert taken.gettimeout() == 0.0 and taken.getblocking() is False
        assert nonblocking_flag(fileno)
    finally:
        taken.close()


def test_recv_and_send_on_the_taken_socket_never_wait(tcp_pair):
    accepted, client = tcp_pair
    taken = detach_socket(accepted)
    try:
        with pytest.raises(BlockingIOError):
            taken.recv(100)  # nothing there: no wait
        client.sendall(b"ping")
        gevent.socket.wait_read(taken.fileno(), timeout=5)
        assert taken.recv(100) == b"ping"
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with pytest.raises(BlockingIOError):  # the client does not read: the send buffer fills, no wait
            while True:
                taken.send(b"x" * 65536)
    finally:
        taken.close()


def test_a_socket_that_blocks_is_made_non_blocking():
    """Not gevent's (nothing says its descriptor is non-blocking): setblocking(False), as before."""
    left, right = socket.socketpair()
    try:
        assert not nonblocking_flag(left.fileno())
        taken = detach_socket(left)
        assert taken.gettimeout() == 0.0 and nonblocking_flag(taken.fileno())
        with pytest.raises(BlockingIOError):
            taken.recv(1)
        taken.close()
    finally:
        right.close()


TRACED = textwrap.dedent(
    """
    import os, socket
    import gevent.socket
    from sockjs_gevent.peerwatch import detach_socket

    listener = gevent.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    os.getppid()  # the markers around the detach: getppid is called nowhere else
    taken = detach_socket(accepted)
    os.getppid()
    """
)


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_detaching_makes_no_syscall_but_cpythons_check_of_the_descriptor(tmp_path):
    """No getsockopt(SO_TYPE/SO_PROTOCOL), no ioctl(FIONBIO): only the getsockname CPython checks the fd with."""
    out = tmp_path / "trace"
    run = subprocess.run(
        ["strace", "-f", "-o", str(out), sys.executable, "-c", TRACED], capture_output=True, text=True, timeout=60
    )
    if run.returncode != 0 or not out.exists():
        pytest.skip(f"strace cannot trace here: {run.stderr.strip()[-200:]}")
    calls = [line.split(None, 1)[1].split("(", 1)[0] for line in out.read_text().splitlines() if " " in line]
    marks = [i for i, name in enumerate(calls) if name == "getppid"]
    assert len(marks) == 2, calls
    assert calls[marks[0] + 1 : marks[1]] == ["getsockname"]
