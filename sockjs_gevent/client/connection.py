"""The client's blocking connection object, fed by a transport's frames."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from gevent.event import Event
from gevent.queue import Empty, Queue

from ..waiting import ENDED, Ended

if TYPE_CHECKING:  # pragma: no cover
    from .cookies import CookieJar
    from .transports import Transport

#: Close code used when the transport broke without a close frame.
BROKEN = (1006, "Connection broken")


#: Close seen when the server answers with a new session's open frame.
LOST_SESSION = (1006, "Server lost session")


class ClientConnection:
    """A SockJS session seen from the client: ``send``, ``recv``, ``close``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.transport: Transport | None = None
        self.opened = Event()  # set on open, or on a close before open
        #: True once the server opened the session (``o`` or a raw WebSocket).
        self.was_opened = False
        self.close_code: int | None = None
        self.close_reason = ""
        self._inbox: Queue[str | Ended] = Queue()  # the messages, then ENDED
        #: The session's cookies (set by ``connect``).
        self.cookie_jar: CookieJar | None = None

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies the session sends (what the server set, and what it started with)."""
        return self.cookie_jar.cookies if self.cookie_jar is not None else {}

    def __enter__(self) -> ClientConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.closed:
            self.close()

    @property
    def transport_name(self) -> str:
        return self.transport.name if self.transport else ""

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    def send(self, message: str) -> bool:
        """Send one message (never blocks); False once closed."""
        if not isinstance(message, str):
            raise TypeError(f"SockJS messages are text: send() takes str, got {type(message).__name__}")
        if self.closed or self.transport is None:
            return False
        self.transport.send(message)
        return True

    def recv(self, timeout: float | None = None) -> str | None:
        """The next message; None once closed; TimeoutError after ``timeout``."""
        if self.closed and self._inbox.empty():
            return None
        try:
            item = self._inbox.get(timeout=timeout)
        except Empty:
            raise TimeoutError(f"no message within {timeout} s") from None
        if item is ENDED:
            self._inbox.put(ENDED)
            return None
        return item

    def __iter__(self) -> Iterator[str]:
        while True:
            message = self.recv()
            if message is None:
                return
            yield message

    def close(self, code: int = 1000, reason: str = "Normal closure") -> None:
        """Leave the session (the server sees the client go)."""
        if self.transport is not None:
            self.transport.close(code, reason)
        self._closed(code, reason)

    # -- called by transports -----------------------------------------------

    def handle_frame(self, frame: str) -> None:
        """Act on one SockJS frame from the server."""
        kind = frame[:1]
        if kind == "o":
            if self.was_opened:
                # A new session where ours should be: the server (or the
                # worker a balancer picked) lost it. sockjs-client does the same.
                self._closed(*LOST_SESSION)
            else:
                self.mark_open()
        elif kind == "a":
            put = self._inbox.put
            for message in json.loads(frame[1:]):
                put(message)
        elif kind == "c":
            code, reason = json.loads(frame[1:])
            self._closed(code, reason)
        elif kind != "h":
            self._closed(1002, f"Unexpected frame from server: {frame[:40]!r}")

    def mark_open(self) -> None:
        self.was_opened = True
        self.opened.set()

    def handle_message(self, message: str) -> None:
        """A message from a transport without SockJS framing."""
        self._inbox.put(message)

    def broken(self, code: int = BROKEN[0], reason: str = BROKEN[1]) -> None:
        """The transport failed without a close frame."""
        self._closed(code, reason)

    def _closed(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
            self._inbox.put(ENDED)
            self.opened.set()  # wake anyone waiting for the open

    def __repr__(self) -> str:
        state = f"closed {self.close_code}" if self.closed else "open"
        return f"<ClientConnection {self.transport_name} {self.url} {state}>"
