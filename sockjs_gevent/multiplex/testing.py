"""Unit-test stream handlers in-process, as the browser's multiplex client would use them.

    from sockjs_gevent.multiplex.testing import MultiplexClient

    def test_chat_echoes():
        with MultiplexClient(SockJS(Multiplexer({"chat": chat}))) as client:
            chat = client.subscribe("chat")
            chat.send("hi")
            assert chat.recv() == "hi"
            chat.close()                      # the page unsubscribes

It drives a ``HandlerClient`` (pass one, e.g. from the Flask extension's
``test_client``, or a service) and sorts what the server sends by stream.
``subscribe`` returns once the stream's handler waits, as building a
``HandlerClient`` does for the session's handler. A stream client has
``send``, ``recv``, their JSON forms ``send_json`` and ``recv_json``,
``wait_closed`` and ``close``. Against a running server, over the network,
use ``sockjs_gevent.client.connect_multiplex(url)`` instead.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any

from ..app import SockJS
from ..protocol import json_text
from ..testing import HandlerClient, not_a_service, settle
from .framing import MSG, UNS, encode_msg, encode_sub, encode_uns, parse, wire_name


class StreamClient:
    """The client's end of one stream (what ``multiplexer.channel(name)`` is in the browser)."""

    def __init__(self, mux: MultiplexClient, wire: str) -> None:
        self._mux = mux
        #: The stream's name on the wire.
        self.wire_name = wire
        self._messages: deque[str] = deque()
        #: True once the server sent ``uns`` for this stream.
        self.closed = False

    def send(self, text: str) -> None:
        """``msg,NAME,TEXT`` to the server."""
        self._mux.client.send(encode_msg(self.wire_name, text))

    def send_json(self, value: Any) -> None:
        """``value`` as JSON text on this stream (what ``stream.recv_json()`` decodes)."""
        self.send(json_text(value))

    def recv_json(self, timeout: float = 1.0) -> Any:
        """The next message of the stream's handler, decoded from JSON; None once closed.

        Raises ValueError for a message that is not JSON, TimeoutError as ``recv``.
        """
        message = self.recv(timeout)
        return None if message is None else json.loads(message)

    def recv(self, timeout: float = 1.0) -> str | None:
        """The next message the stream's handler sent; None once the server closed it (or the connection).

        Raises TimeoutError if nothing comes for this stream within ``timeout`` seconds.
        """
        self._mux._pump_until(lambda: bool(self._messages) or self.closed, timeout, f"a message on {self.wire_name!r}")
        if self._messages:
            return self._messages.popleft()
        return None

    def wait_closed(self, timeout: float = 1.0) -> None:
        """Wait until the server closes the stream (``uns``), or the connection closes."""
        self._mux._pump_until(lambda: self.closed, timeout, f"uns of {self.wire_name!r}")

    def close(self) -> None:
        """Unsubscribe, as ``channel.close()`` does in the browser: ``uns,NAME``."""
        self._mux.client.send(encode_uns(self.wire_name))
        self._mux._forget(self)


class MultiplexClient:
    """One fake browser session speaking websocket-multiplex to a multiplexed service."""

    def __init__(self, client: HandlerClient | SockJS, **options: Any) -> None:
        if not isinstance(client, (HandlerClient, SockJS)):
            if type(client).__name__ in ("ClientConnection", "MultiplexConnection"):
                raise TypeError(_over_the_network(client))
            raise TypeError(
                not_a_service("MultiplexClient", client, "mux", " of a Multiplexer (or a HandlerClient of one)")
            )
        #: The underlying session client (its ``session``, ``wait_closed``, ``close`` ...).
        self.client = client if isinstance(client, HandlerClient) else HandlerClient(client, **options)
        self._streams: dict[str, StreamClient] = {}

    def subscribe(self, name: str) -> StreamClient:
        """``sub,NAME``: open stream ``name`` (escaped as the browser does).

        Returns once the stream's handler has run up to its first wait
        (``sockjs_gevent.testing.settle``): a stream that joins a channel
        has joined it, so another client's message reaches it.
        """
        stream = StreamClient(self, wire_name(name))
        self._streams[stream.wire_name] = stream
        self.client.send(encode_sub(stream.wire_name))
        settle()
        return stream

    def send_raw(self, *messages: str) -> None:
        """Messages as they are, well-formed or not."""
        self.client.send(*messages)

    def _forget(self, stream: StreamClient) -> None:
        if self._streams.get(stream.wire_name) is stream:
            del self._streams[stream.wire_name]

    def _pump_until(self, done: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            try:
                message = self.client.recv(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise TimeoutError(f"nothing: waited {timeout} s for {what}") from None
            if message is None:  # the whole connection closed: so did every stream
                for open_stream in self._streams.values():
                    open_stream.closed = True
                return
            kind, wire, payload = parse(message)
            stream = self._streams.get(wire)
            if stream is None:
                continue  # like the browser: messages for streams it does not have are ignored
            if kind == MSG:
                assert payload is not None  # (parse gives every msg one)
                stream._messages.append(payload)
            elif kind == UNS:
                stream.closed = True
                self._forget(stream)

    def close(self) -> None:
        """The browser leaves: the whole connection closes."""
        self.client.close()

    def __enter__(self) -> MultiplexClient:
        self.client.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.client.__exit__(*exc)


def _over_the_network(obj: object) -> str:
    """What to tell someone who gave MultiplexClient a network client (``sockjs_gevent.client``)."""
    if type(obj).__name__ == "MultiplexConnection":
        network = "it is already the multiplex client over the network: call its subscribe(name)"
    else:
        network = (
            "a ClientConnection talks to a server over the network: multiplex it with "
            "sockjs_gevent.client.MultiplexConnection(conn), or connect with connect_multiplex(url)"
        )
    return (
        f"MultiplexClient runs a multiplexed service in-process, without a server; {network}. "
        "For an in-process test, give MultiplexClient the service: MultiplexClient(SockJS(mux, prefix='/mux'))"
    )
