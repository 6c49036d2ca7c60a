"""Unit-test a handler in-process: no server, no sockets.

    from sockjs_gevent.testing import HandlerClient

    def test_echo():
        with HandlerClient(SockJS(echo)) as client:
            client.send("hi")
            assert client.recv() == "hi"

The client plays the browser: ``send`` delivers messages to the handler,
``recv`` returns what the handler sent (``send_json`` and ``recv_json``
do the same as JSON), ``close`` is the browser leaving.
The handler runs in its own greenlet exactly as under the server. If the
handler raises, the test sees that exception (from ``recv``,
``wait_closed``, or leaving the ``with`` block), not only a 1011 close it
might never look at; ``raise_errors=False`` turns that off.

Building a client returns only once the handler has run up to its first
wait (see ``settle``): a handler that joins a channel has joined it, so
two clients of one service hear each other from their first message:

    with HandlerClient(service) as a, HandlerClient(service) as b:
        a.send("hi")                          # the handler publishes to its room
        assert b.recv() == "hi"
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import gevent
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder

from .app import SockJS
from .callables import looks_like_handler, service_example
from .protocol import json_text
from .responses import Environ
from .router import Router
from .session import NORMAL_CLOSURE, Session
from .transports import NAMES
from .transports.outlets import GreenletOutlet
from .waiting import ENDED, Ended, quiet_timeout, wait_for

#: The longest ``settle`` yields to a handler that never waits (one that
#: spins with ``gevent.sleep(0)``) before the test goes on anyway.
SETTLE_TIMEOUT = 1.0


def settle(started: Callable[[], bool] | None = None, timeout: float | None = None) -> None:
    """Let every greenlet that is ready run until it waits: until the event loop is idle.

    A handler spawned for a new session (or a stream handler for a new
    ``sub``) has then run up to its first wait of any kind (a message, a
    timer, a socket) or returned, whatever it did before: joined a
    channel, yielded with ``gevent.sleep(0)``, spawned greenlets of its own.

    Why not one ``gevent.sleep(0)``, nor an event set when the handler first
    reads: one yield lets the handler run only up to its first cooperative
    yield (a ``sleep(0)``, a multiplexer spawning its stream's greenlet),
    and a handler need not read first (a ticker sends, then sleeps). Idle
    means no greenlet can run, which is what a test needs before it acts
    as another client. ``started()`` (the handler greenlet has begun) is
    polled first, so even a busy loop elsewhere cannot return before the
    handler ran. Bounded: after ``timeout`` seconds (``SETTLE_TIMEOUT``) of a
    loop that never goes idle it returns anyway.
    """
    deadline = time.monotonic() + (SETTLE_TIMEOUT if timeout is None else timeout)
    while started is not None and not started() and time.monotonic() < deadline:
        gevent.sleep(0)
    remaining = deadline - time.monotonic()
    if remaining > 0:
        with quiet_timeout(remaining):
            gevent.idle()


def not_a_service(taker: str, obj: Any, handler: str = "echo", also: str = "") -> str:
    """What to tell someone who gave ``taker`` (a test client) ``obj`` instead of a SockJS service.

    ``handler`` names the handler in the examples; ``also`` is what else ``taker`` takes.
    """
    service = f"SockJS({handler}, prefix='/{handler}')"
    if isinstance(obj, Router):
        return (
            f"{taker} takes one SockJS service{also}, not a Router: pick one, {taker}(router.service_for('/{handler}'))"
        )
    if hasattr(obj, "wsgi_app") and hasattr(obj, "extensions"):  # a Flask app
        flask_client = f"sockjs.test_client(app, '/{handler}')"  # (a HandlerClient)
        return (
            f"{taker} takes a SockJS service{also}, not a Flask app: for a route of flask_sockjs, "
            f"{flask_client if taker == 'HandlerClient' else f'{taker}({flask_client})'}"
        )
    if type(obj).__module__.startswith("sockjs_gevent.client"):
        return (
            f"{taker} takes a SockJS service{also} and runs it in-process, without a server; a "
            f"{type(obj).__name__} talks to a server over the network. Give it the service: {taker}({service})"
        )
    if looks_like_handler(obj):
        return f"{taker} takes a SockJS service{also}, not a handler: {taker}({service_example(obj)})"
    return f"{taker} takes a SockJS service{also}: {taker}({service}), got {obj!r}"


class HandlerClient:
    """One fake client session against ``service``'s handler."""

    def __init__(
        self,
        service: SockJS,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        transport: str = "websocket",
        remote_addr: str = "127.0.0.1",
        environ: Environ | None = None,
        raise_errors: bool = True,
        query_string: str = "",
    ) -> None:
        if not isinstance(service, SockJS):
            raise TypeError(not_a_service("HandlerClient", service))
        if transport not in NAMES:
            raise ValueError(f"transport must be one of {', '.join(NAMES)} (as conn.transport says), got {transport!r}")
        all_headers = dict(headers or {})
        if cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if environ is None:
            builder = EnvironBuilder(
                path=path or service.prefix + "/0/test/" + transport,
                headers=Headers(all_headers),
                query_string=query_string,
                environ_base={"REMOTE_ADDR": remote_addr},
            )
            environ = builder.get_environ()
        self._receiver = GreenletOutlet()
        self._received: deque[str] = deque()
        #: What the handler raised, if it did.
        self.error: BaseException | None = None
        self._raise_errors = raise_errors
        handler = service.handler
        started = False

        def recording(conn: Any) -> Any:
            nonlocal started
            started = True
            try:
                return handler(conn)
            except Exception as exc:
                self.error = exc
                raise

        #: The server-side session; messages are kept unquoted for reading.
        self.session: Session = service.open_session(None, environ, transport, raw=True, handler=recording)
        self.session.attach(self._receiver)
        if not self.session.refused:
            settle(lambda: started)

    def settle(self, timeout: float | None = None) -> None:
        """Let the handler (and every other ready greenlet) run until it waits; see ``settle``.

        Building the client does this; call it after ``send`` to look at
        what the handler did with a message without reading an answer.
        """
        settle(None, timeout)

    def _raise_handler_error(self) -> None:
        error, self.error = self.error, None
        if error is not None and self._raise_errors:
            raise error

    def send(self, *messages: str) -> None:
        """Deliver messages to the handler, as if the browser sent them."""
        self.session.deliver(list(messages))

    def send_json(self, *values: Any) -> None:
        """Deliver each value as a JSON text message (what ``conn.recv_json()`` decodes)."""
        self.send(*(json_text(value) for value in values))

    def recv_json(self, timeout: float = 1.0) -> Any:
        """The next message the handler sent, decoded from JSON; None once the session closed.

        Raises ValueError for a message that is not JSON, TimeoutError as ``recv``.
        """
        message = self.recv(timeout)
        return None if message is None else json.loads(message)

    def recv(self, timeout: float = 1.0) -> str | None:
        """The next message the handler sent; None once the session closed.

        Raises TimeoutError if nothing comes within ``timeout`` seconds.
        """
        received = self._received

        def take() -> str | Ended | None:
            if not received:
                received.extend(self.session.take_messages())
            if received:
                return received.popleft()
            return ENDED if self.session.closed else None

        message = wait_for(self._receiver.wakeup, take, timeout)
        if message is None:
            raise TimeoutError(f"the handler sent nothing within {timeout} s")
        if message is ENDED:
            self._raise_handler_error()
            return None
        return message

    def wait_closed(self, timeout: float = 1.0) -> tuple[int, str]:
        """Wait for the server side to close; returns (code, reason)."""
        if not wait_for(self._receiver.wakeup, lambda: self.session.closed or None, timeout):
            raise TimeoutError(f"the session did not close within {timeout} s")
        self._raise_handler_error()
        return self.session.close_code, self.session.close_reason

    @property
    def closed(self) -> bool:
        return self.session.closed

    @property
    def close_code(self) -> int | None:
        return self.session.close_code or None

    @property
    def close_reason(self) -> str:
        return self.session.close_reason

    @property
    def refused(self) -> bool:
        """True if before_open turned this client away (the handler never ran)."""
        return self.session.refused

    def close(self, timeout: float = 1.0) -> None:
        """The browser leaves: the handler sees the close; wait for it to return."""
        self.session.close(*NORMAL_CLOSURE)
        greenlet = self.session.handler_greenlet
        if greenlet is not None:
            greenlet.join(timeout)
            if not greenlet.dead:
                greenlet.kill(block=True, timeout=timeout)

    def __enter__(self) -> HandlerClient:
        """The client, whose handler has already run up to its first wait (building it did that)."""
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        self.close()
        gevent.idle()
        if exc_type is None:
            self._raise_handler_error()
