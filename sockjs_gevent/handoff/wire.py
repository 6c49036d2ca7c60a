"""One hand-off message: a client connection's descriptor, its listener, its peer, and the bytes read from it.

Sent over an ``AF_UNIX`` ``SOCK_SEQPACKET`` connection between two workers
of one machine: each message arrives whole (or not at all), with the
descriptor as ``SCM_RIGHTS`` ancillary data.
"""

from __future__ import annotations

import array
import socket
from typing import Any, NamedTuple

MAGIC = b"SJH2"
#: The family byte: which socket family the descriptor is (0: find out).
_FAMILIES = {socket.AF_INET: 4, socket.AF_INET6: 6, socket.AF_UNIX: 1}
_BY_BYTE = {byte: family for family, byte in _FAMILIES.items()}
#: Largest message: a request head (16 KiB by default) and the rest of one
#: read (64 KiB by default), with room to spare. The sender refuses more.
MAX_MESSAGE = 256 * 1024
_FD_SPACE = socket.CMSG_SPACE(array.array("i").itemsize * 4)
#: (A plain int: or-ing the enum members runs enum.Flag.__or__ in Python for every message.)
_TRUNCATED = int(socket.MSG_TRUNC | socket.MSG_CTRUNC)


class Handed(NamedTuple):
    """A received hand-off: ``family`` 0 and ``address`` None when the sender did not say."""

    fd: int
    listener: int
    data: bytes
    family: int = 0
    address: Any = None


def pack(listener: int, data: bytes, address: Any = None) -> list[bytes]:
    """The message's parts: header (magic, listener, peer), then the bytes already read.

    The peer (the ``accept()`` address of a TCP client) travels along, so
    the receiver needs no system call to learn it.
    """
    peer = b""
    family = 0
    if isinstance(address, tuple) and len(address) >= 2:
        peer = f"{address[0]} {address[1]}".encode("ascii", "replace")
        family = 6 if ":" in str(address[0]) else 4
    elif isinstance(address, str):
        family = 1  # a Unix socket's client has no address
    return [MAGIC + bytes((listener, family, len(peer))) + peer, data]


def send(sock: Any, fd: int, listener: int, data: bytes, address: Any = None) -> None:
    """Send one hand-off on a connected SEQPACKET socket (a gevent socket: it waits while the peer's queue is full)."""
    sock.sendmsg(pack(listener, data, address), [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])


def receive(sock: Any) -> Handed | str | None:
    """The next hand-off on ``sock``; None when the peer closed, or a string saying why a message was dropped."""
    message, ancillary, flags, _ = sock.recvmsg(MAX_MESSAGE, _FD_SPACE)
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(array.array("i", payload[: len(payload) - len(payload) % array.array("i").itemsize]))
    if not message and not fds:
        return None
    problem = None
    if flags & _TRUNCATED:
        problem = "truncated message"
    elif len(fds) != 1:
        problem = f"{len(fds)} descriptors in one message"
    elif message[:4] != MAGIC or len(message) < 7 or len(message) < 7 + message[6]:
        problem = "not a hand-off message"
    if problem is not None:
        for fd in fds:
            socket.close(fd)
        return problem
    family = _BY_BYTE.get(message[5], 0)
    address: Any = None
    end = 7 + message[6]
    if family == socket.AF_UNIX:
        address = ""
    elif family:
        host, _, port = bytes(message[7:end]).decode("ascii", "replace").rpartition(" ")
        address = (host, int(port)) if port.isdigit() else None
        family = family if address is not None else 0
    return Handed(fds[0], message[4], bytes(message[end:]), family, address)
