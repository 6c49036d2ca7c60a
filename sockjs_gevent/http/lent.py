"""A connection lent out for the rest of one streaming answer.

A long streaming answer (a SockJS xhr-streaming or eventsource response)
mostly waits. Written from the request's greenlet, each one keeps that
greenlet, its stack and the connection's parser and buffers alive for as
long as it lasts. Instead the app can borrow the socket once the head is
out: it writes the rest of the body itself from the event loop, framed as
``chunked`` says, and then gives the socket back, and the server serves
the connection's next requests in a new greenlet (keep-alive goes on).
"""

from __future__ import annotations

import _socket
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import HttpServer


class LentSocket:
    """The socket of an answer whose head is out, until ``give_back()`` or ``close()``.

    ``sock`` is a plain non-blocking OS socket. ``chunked``: each body
    write must be one chunk, and the body ends with the last chunk
    (``b"0\\r\\n\\r\\n"``); otherwise the body is raw bytes and ends when the
    connection closes (HTTP/1.0). ``write_timeout``: how long the server
    lets a client leave written bytes unread (None: no limit), for the
    borrower to apply.
    """

    __slots__ = ("sock", "chunked", "keep_alive", "write_timeout", "_server", "_address")

    def __init__(
        self,
        sock: _socket.socket,
        chunked: bool,
        keep_alive: bool,
        write_timeout: float | None,
        server: HttpServer,
        address: Any,
    ) -> None:
        self.sock = sock
        self.chunked = chunked
        self.keep_alive = keep_alive  # the answer does not end the connection
        self.write_timeout = write_timeout
        self._server: HttpServer | None = server  # None once given back or closed
        self._address = address

    def give_back(self) -> None:
        """The answer is complete and written: serve the connection's next requests (or close it)."""
        server, self._server = self._server, None
        if server is None:
            return
        if self.keep_alive and not server.draining:
            server.resume(self.sock, self._address)
        else:
            self._close(socket.SHUT_WR)

    def close(self) -> None:
        """The answer cannot be completed (the client left, or stopped reading): drop the connection."""
        if self._server is not None:
            self._server = None
            # close() alone: this object is the socket's only owner, so the
            # kernel ends the connection as shutdown(SHUT_RDWR) would have
            # (a FIN after whatever is still unsent; a reset if the client's
            # bytes are left unread, with or without the shutdown), and a
            # system call fewer on every client that leaves a stream.
            self.sock.close()

    def _close(self, how: int) -> None:
        try:
            self.sock.shutdown(how)
        except OSError:
            pass
        self.sock.close()
