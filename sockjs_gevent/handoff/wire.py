"""One hand-off message: a client connection's descriptor, the listener it came in on, and the bytes read from it.

Sent over an ``AF_UNIX`` ``SOCK_SEQPACKET`` connection between two workers
of one machine: each message arrives whole (or not at all), with the
descriptor as ``SCM_RIGHTS`` ancillary data.
"""

from __future__ import annotations

import array
import socket
from typing import Any, NamedTuple, Optional

MAGIC = b"SJH1"
#: Largest message: a request head (16 KiB by default) and the rest of one
#: read (64 KiB by default), with room to spare. The sender refuses more.
MAX_MESSAGE = 256 * 1024
_FD_SPACE = socket.CMSG_SPACE(array.array("i").itemsize * 4)


class Handed(NamedTuple):
    """A received hand-off."""

    fd: int
    listener: int
    data: bytes


def pack(listener: int, data: bytes) -> list[bytes]:
    """The message's parts (header, then the bytes already read)."""
    return [MAGIC + bytes((listener,)), data]


def send(sock: Any, fd: int, listener: int, data: bytes) -> None:
    """Send one hand-off on a connected SEQPACKET socket (a gevent socket: it waits while the peer's queue is full)."""
    sock.sendmsg(pack(listener, data), [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])


def receive(sock: Any) -> Optional[Handed | str]:
    """The next hand-off on ``sock``; None when the peer closed, or a string saying why a message was dropped."""
    message, ancillary, flags, _ = sock.recvmsg(MAX_MESSAGE, _FD_SPACE)
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(array.array("i", payload[: len(payload) - len(payload) % array.array("i").itemsize]))
    if not message and not fds:
        return None
    problem = None
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        problem = "truncated message"
    elif len(fds) != 1:
        problem = f"{len(fds)} descriptors in one message"
    elif message[:4] != MAGIC or len(message) < 5:
        problem = "not a hand-off message"
    if problem is not None:
        for fd in fds:
            socket.close(fd)
        return problem
    return Handed(fds[0], message[4], bytes(message[5:]))
