"""Notice a client that hung up while its request waits for data.

gevent does not tell a greenlet blocked on an Event that the client closed
the TCP connection; it would only learn at the next write (the next
heartbeat, 25 s later). A libev io watcher on the socket costs no greenlet:
when the socket turns readable, the waiting outlet is woken and peeks: an
empty read means the peer is gone.
"""

from __future__ import annotations

import _socket
import socket
import ssl
from collections.abc import Mapping
from typing import Any

from gevent import get_hub
from gevent import ssl as gevent_ssl
from gevent.event import Event

#: The environ key under which sockjs_gevent's pywsgi handler puts the socket.
SOCKET_KEY = "sockjs_gevent.socket"
#: And a function that hands the socket over for good (an upgraded WebSocket):
#: the handler then neither reads, writes nor closes it. It returns a plain,
#: non-blocking ``socket.socket`` (not gevent's wrapper, which keeps two
#: event watchers per connection): the caller reads it from the event loop.
#: The takers of sockjs_gevent's servers (``sockettaker``) can also hand over
#: the head of the answer, not sent yet (``take_with_head``), for the caller
#: to send with its first bytes.
TAKE_SOCKET_KEY = "sockjs_gevent.take_socket"


#: Or'd into a socket's type, it makes CPython build the object in non-blocking
#: mode (timeout 0.0) without a syscall (Linux; 0 where there is no such flag).
_NONBLOCK_TYPE = getattr(_socket, "SOCK_NONBLOCK", 0)


def detach_socket(sock: Any) -> _socket.socket:
    """The OS socket under gevent's ``sock``, as a plain non-blocking socket; ``sock`` lets go of it.

    It costs no syscall to ask the kernel what it knows already: family,
    type and protocol are passed on (CPython would otherwise ask with
    ``getsockopt``; it still checks the descriptor with one ``getsockname``),
    and a descriptor gevent made non-blocking (gevent's sockets always are:
    their OS socket's timeout is 0.0) is not made so again; the new object
    is told it is through its type (``SOCK_NONBLOCK``): timeout 0.0, and
    ``recv``/``send`` raise ``BlockingIOError`` instead of waiting. Any
    other socket is set non-blocking with ``setblocking(False)``.
    """
    inner = getattr(sock, "_sock", sock)
    if isinstance(inner, _socket.socket):
        # (the OS socket's own attributes are plain ints; gevent's wrapper
        # turns each into an enum member, a call apiece)
        family, kind, proto = inner.family, inner.type, inner.proto
        nonblocking = _NONBLOCK_TYPE and inner.gettimeout() == 0.0
    else:
        family, kind, proto = sock.family, sock.type, sock.proto
        nonblocking = False
    fileno = sock.detach()
    if nonblocking:
        return _socket.socket(family, kind | _NONBLOCK_TYPE, proto, fileno)
    taken = _socket.socket(family, kind, proto, fileno)
    taken.setblocking(False)
    return taken


_TLS_SOCKETS = (ssl.SSLSocket, gevent_ssl.SSLSocket)


def find_socket(environ: Mapping[str, Any]) -> socket.socket | None:
    """The client socket of a request, or None when the server hides it.

    ``serve()`` uses a handler that puts it in the environ; under a plain
    gevent pywsgi handler it is reached through the request's input stream.
    """
    sock = environ.get(SOCKET_KEY)
    if sock is not None:
        return sock
    stream = environ.get("wsgi.input")
    for path in (("rfile", "raw", "_sock"), ("raw", "_sock")):
        obj: Any = stream
        for attr in path:
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if obj is not None and hasattr(obj, "recv"):
            return obj
    return None


#: What ``peek`` found on a client's socket.
NOTHING, SENT_MORE, HUNG_UP = 0, 1, 2

#: recv flags of ``peek``, as a plain int: or-ing the two enum members runs
#: ``enum.Flag.__or__`` in Python, a few microseconds each time.
_PEEK_FLAGS = int(socket.MSG_PEEK | socket.MSG_DONTWAIT)


def peek(sock: Any) -> int:
    """Look at a client's socket without taking anything or waiting: NOTHING, SENT_MORE or HUNG_UP.

    SENT_MORE: bytes wait (a pipelined request: the client is alive).
    HUNG_UP: the end of its stream, or a reset.
    """
    sock = getattr(sock, "_sock", sock)  # the OS socket: gevent's would wait when nothing is there
    try:
        data = sock.recv(1, _PEEK_FLAGS)
    except BlockingIOError:
        return NOTHING
    except OSError:
        return HUNG_UP
    return SENT_MORE if data else HUNG_UP


class PeerWatch:
    """Wakes ``wakeup`` when the client's socket becomes readable."""

    __slots__ = ("_sock", "_watcher", "_wakeup", "_readable")

    def __init__(self, sock: socket.socket | None, wakeup: Event) -> None:
        if isinstance(sock, _TLS_SOCKETS):
            # A TLS socket cannot peek; the TCP stream under it can (an end
            # of stream there is the client gone, whatever TLS says).
            sock = getattr(sock, "_sock", None)
        self._sock = sock
        self._wakeup = wakeup
        self._readable = False
        self._watcher = None
        if sock is not None:
            try:
                fileno = sock.fileno()
            except OSError:
                return
            if fileno >= 0:
                self._watcher = get_hub().loop.io(fileno, 1)
                self._watcher.start(self._on_readable)

    def _on_readable(self) -> None:
        self._readable = True
        watcher = self._watcher
        if watcher is not None:  # (it is: this is its callback)
            watcher.stop()
        self._wakeup.set()

    def gone(self) -> bool:
        """True if the client closed or reset its connection."""
        if not self._readable:
            return False
        found = peek(self._sock)
        if found == NOTHING:
            self._readable = False  # woken for nothing (the raw socket under TLS): watch on
            if self._watcher is not None:
                self._watcher.start(self._on_readable)
            return False
        if found == SENT_MORE:
            # The client sent more (a pipelined request): it is alive, and
            # we cannot watch further without consuming its bytes.
            self._readable = False
            return False
        return True

    def hung_up(self) -> bool:
        """Look now, without waiting for the watcher: True if the client closed or reset its connection.

        For a new request of the same session that arrives before the event
        loop has reported the hang-up (see ``Session.attach``).
        """
        return self._sock is not None and peek(self._sock) == HUNG_UP

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.close()
            self._watcher = None
