"""``environ[TAKE_SOCKET_KEY]`` of both HTTP servers: the callable that hands the client socket over.

An upgraded WebSocket takes the socket for good (``peerwatch.TAKE_SOCKET_KEY``):
the server's connection (the httptools server's, or the pywsgi handler) then
neither reads, writes nor closes it. The httptools server can also lend it
for the rest of a streaming answer (``LendingSocketTaker.lend``, see
``http.lent``); the receiving transports look for ``lend`` and stream from
their own greenlet when it is missing (the pywsgi handler cannot lend).

Both servers' takers can also hand over the head of the answer with the
socket (``take_with_head``): the 101 of an upgrade, rendered as the server
would have sent it but not sent, so that the caller sends it with its first
bytes in one send (a SockJS websocket's 101 and ``o`` frame). The server
counts the head as sent (its state, its access log): sending it is then
the caller's duty, before anything else and without delay.

An environ kept by a session must not keep the connection (parser,
buffers) alive, and no request may leave a reference cycle behind for the
cyclic GC (connection -> environ -> taker -> connection). The pywsgi
handler's taker holds its handler weakly. The httptools server's holds its
connection until the connection ends and calls ``release``, which breaks
that cycle: its connection may be compiled (the optional mypyc build), and
a compiled class takes no weak reference.
"""

from __future__ import annotations

import _socket
import weakref
from typing import TYPE_CHECKING, Generic, NamedTuple, Protocol, TypeVar

if TYPE_CHECKING:
    from .http.lent import LentSocket


class TakenSocket(NamedTuple):
    """A socket taken for good with the head of the answer it owes (``take_with_head``)."""

    #: A plain non-blocking socket (see ``peerwatch.detach_socket``).
    sock: _socket.socket
    #: The answer's head, not sent: the taker sends it before anything else.
    #: b"" when it was out already, or no answer was started.
    head: bytes


class SocketOwner(Protocol):
    """A connection whose socket can be taken (what ``SocketTaker`` needs of it)."""

    def take_socket(self) -> _socket.socket: ...

    def take_socket_with_head(self) -> TakenSocket:
        """The socket, and the head of the answer ``start_response`` began, rendered but not sent."""
        ...


class SocketLender(SocketOwner, Protocol):
    """A connection that can also lend its socket for the rest of the current answer."""

    @property
    def request(self) -> object | None:
        """The request being answered, None between requests."""

    def lend_socket(self) -> LentSocket | None: ...


_Owner = TypeVar("_Owner", bound=SocketOwner)


class _Taker(Generic[_Owner]):
    """What both takers do with the connection they hold (``_owner_now``; None once it ended)."""

    __slots__ = ()

    def _owner_now(self) -> _Owner | None:
        raise NotImplementedError

    def _current(self) -> _Owner:
        owner = self._owner_now()
        if owner is None or not self._in_request(owner):
            raise RuntimeError("the request is over: its socket is gone")
        return owner

    def _in_request(self, owner: _Owner) -> bool:
        return True

    def __call__(self) -> _socket.socket:
        """The socket, for good: a plain non-blocking socket (see ``peerwatch.detach_socket``)."""
        return self._current().take_socket()

    def take_with_head(self) -> TakenSocket:
        """The socket for good, and the head of the answer the app started, not sent.

        Call it after ``start_response`` and before ``write``: the server
        renders the head (status line, headers, its Date) exactly as it would
        have sent it, counts it as sent, and leaves it to the caller, who
        must send it first, with its first bytes (one send for both) or
        alone, at once. ``head`` is b"" if it was out already.
        """
        return self._current().take_socket_with_head()


class SocketTaker(_Taker[SocketOwner]):
    """Takes the socket of a connection that can only hand it over (the pywsgi handler), held weakly."""

    __slots__ = ("_owner",)

    def __init__(self, owner: SocketOwner) -> None:
        self._owner = weakref.ref(owner)

    def _owner_now(self) -> SocketOwner | None:
        return self._owner()


class LendingSocketTaker(_Taker[SocketLender]):
    """Takes or lends the socket of the current request of a connection (the httptools server's).

    It holds the connection until ``release``, which the connection calls as it ends.
    """

    __slots__ = ("_owner",)

    def __init__(self, owner: SocketLender) -> None:
        self._owner: SocketLender | None = owner

    def _owner_now(self) -> SocketLender | None:
        return self._owner

    def release(self) -> None:
        """Let the connection go: it ended, and an environ kept by a session must not keep it."""
        self._owner = None

    def _in_request(self, owner: SocketLender) -> bool:
        return owner.request is not None

    def lend(self) -> LentSocket | None:
        """The socket for the rest of this answer, or None if it cannot be lent (see ``lend_socket``)."""
        return self._current().lend_socket()
