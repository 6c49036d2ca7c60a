"""Getting a WebSocket's bytes out without making anyone wait.

A send must never block the handler (or the event loop): ``SocketWriter``
writes straight to a non-blocking OS socket and leaves what it does not
take to a libev write watcher, written as the client reads; a
``GreenletWriter`` writes through a blocking function (a TLS socket's
``sendall``) in a greenlet of its own. Either tells its owner when what
waited has been written (``_drained``) or the connection broke (``_lost``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gevent

from ..sockwriter import Owner
from ..sockwriter import SocketWriter as SocketWriter  # (the package's modules take both writers from here)
from ..sockwriter import Writer as _Writer


class GreenletWriter(_Writer):
    """Writes through a blocking ``write(bytes)`` (a TLS socket's sendall) in its own greenlet."""

    __slots__ = ("_write", "_greenlet")

    def __init__(self, owner: Owner, write: Callable[[bytes], Any]) -> None:
        super().__init__(owner)
        self._write = write
        self._greenlet: gevent.Greenlet | None = None

    def write(self, data: bytes) -> None:
        if self.broken:
            return
        self._out += data
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        try:
            while self._out:
                data = bytes(self._out)
                self._out.clear()
                self._write(data)
        except OSError:
            self._fail()
        else:
            if not self.broken and self._owner is not None:
                self._owner._drained()
        finally:
            self._greenlet = None
