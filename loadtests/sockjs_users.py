"""Locust users that talk SockJS through ``sockjs_gevent.client``, one class per transport.

Each user holds one session on the echo service and (unless
``--broadcast-interval 0``) one on the broadcast service. Every
``--message-interval`` seconds it sends an echo message and waits for it to
come back; every ``--broadcast-interval`` seconds it also publishes a message
carrying its send time, and a background greenlet timestamps every broadcast
it receives. What it reports to locust (Type / Name in the statistics):

==============  =================  =========================================
Type            Name               sample
==============  =================  =========================================
``connect``     transport          time until the session is open
``echo rtt``    transport          send -> the same message back
``broadcast``   transport          publish time in the message -> delivery
``session``     ``close <code>``   failure: a session closed under the user
==============  =================  =========================================

A refused open counts as ``session`` / ``close <code>`` too (e.g. 1013
"Server busy"); an unreachable server, an HTTP error or a slow open as a
``connect`` failure, a missing echo as an ``echo rtt`` failure. Broadcast latency uses
the wall clock, so generators on several machines need synchronised clocks.

Works against any SockJS server: ``--host`` is its base URL, the service
paths come from ``--echo-path`` / ``--broadcast-path`` (or the
``LOCUST_ECHO_PATH`` / ``LOCUST_BROADCAST_PATH`` environment variables).
The broadcast service must send every message to every session, as the
conformance test servers' ``/broadcast`` does.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from argparse import Namespace
from typing import Any, ClassVar

import gevent
from locust import User, events, task

from sockjs_gevent.client import ClientConnection, ConnectError, connect
from sockjs_gevent.client.connection import BROKEN

#: Defaults, also used when locust runs without its command line (as a library).
DEFAULTS: dict[str, Any] = {
    "echo_path": "/echo",
    "broadcast_path": "/broadcast",
    "message_interval": 1.0,
    "broadcast_interval": 5.0,
    "message_size": 64,
    "reply_timeout": 10.0,
}

_user_ids = itertools.count(1)


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    """The SockJS options, on locust's command line, config file and web UI."""
    group = parser.add_argument_group("SockJS load test")
    group.add_argument(
        "--echo-path",
        default=DEFAULTS["echo_path"],
        env_var="LOCUST_ECHO_PATH",
        help="path of the echo service under --host (default /echo)",
    )
    group.add_argument(
        "--broadcast-path",
        default=DEFAULTS["broadcast_path"],
        env_var="LOCUST_BROADCAST_PATH",
        help="path of the broadcast service under --host (default /broadcast)",
    )
    group.add_argument(
        "--message-interval",
        type=float,
        default=DEFAULTS["message_interval"],
        env_var="LOCUST_MESSAGE_INTERVAL",
        help="seconds between a user's echo messages (default 1)",
    )
    group.add_argument(
        "--broadcast-interval",
        type=float,
        default=DEFAULTS["broadcast_interval"],
        env_var="LOCUST_BROADCAST_INTERVAL",
        help="seconds between a user's broadcasts; 0 leaves the broadcast service alone "
        "(default 5; every user receives every broadcast: load grows with users squared)",
    )
    group.add_argument(
        "--message-size",
        type=int,
        default=DEFAULTS["message_size"],
        env_var="LOCUST_MESSAGE_SIZE",
        help="characters per message (default 64)",
    )
    group.add_argument(
        "--reply-timeout",
        type=float,
        default=DEFAULTS["reply_timeout"],
        env_var="LOCUST_REPLY_TIMEOUT",
        help="seconds to wait for an open or an echo (default 10)",
    )


def options(environment: Any) -> Namespace:
    """The parsed SockJS options, with defaults filled in."""
    parsed = getattr(environment, "parsed_options", None)
    return Namespace(**{key: getattr(parsed, key, default) for key, default in DEFAULTS.items()})


class SessionClosed(Exception):
    """A session closed (or was refused) while the user still wanted it."""


class SockJSUser(User):
    """One simulated client: an echo session, a broadcast session, paced messages."""

    abstract = True
    #: A transport name of ``sockjs_gevent.client.connect``.
    transport: ClassVar[str] = ""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.opts = options(environment)
        self.user_id = next(_user_ids)
        self.echo: ClientConnection | None = None
        self.broadcast: ClientConnection | None = None
        self._listener: gevent.Greenlet | None = None
        self._seq = itertools.count()
        self._next_echo = 0.0
        self._next_broadcast: float | None = None
        self._stopping = False

    # -- reporting ----------------------------------------------------------

    def report(
        self,
        kind: str,
        elapsed_ms: float,
        length: int = 0,
        exception: BaseException | None = None,
        name: str | None = None,
    ) -> None:
        """One sample (or failure) in locust's statistics."""
        self.environment.events.request.fire(
            request_type=kind,
            name=name or self.transport,
            response_time=elapsed_ms,
            response_length=length,
            exception=exception,
            context={"user_id": self.user_id},
        )

    def report_close(self, conn: ClientConnection, what: str) -> None:
        """A session that closed under the user: failure ``session`` / ``close <code>``."""
        self.report(
            "session",
            0,
            exception=SessionClosed(f"{self.transport} {what} session closed: {conn.close_code} {conn.close_reason}"),
            name=f"close {conn.close_code}",
        )

    # -- sessions -----------------------------------------------------------

    def url(self, path: str) -> str:
        if not self.host:
            raise ValueError("no --host: give the SockJS server's base URL, e.g. --host http://127.0.0.1:8081")
        return self.host.rstrip("/") + path

    def open(self, path: str) -> ClientConnection | None:
        """Open a session on ``path``, reporting ``connect``; None if it failed."""
        start = time.perf_counter()
        try:
            conn = connect(self.url(path), transport=self.transport, timeout=self.opts.reply_timeout)
        except ConnectError as exc:
            elapsed = (time.perf_counter() - start) * 1000
            if exc.code not in (None, BROKEN[0]):  # the server refused: close frame with a code
                self.report("session", elapsed, exception=exc, name=f"close {exc.code}")
            else:
                self.report("connect", elapsed, exception=exc)
            return None
        self.report("connect", (time.perf_counter() - start) * 1000)
        return conn

    def ensure_sessions(self) -> bool:
        """(Re)open whatever session is missing; True when the echo session is usable."""
        if self.echo is None:
            self.echo = self.open(self.opts.echo_path)
        if self.opts.broadcast_interval > 0 and (self._listener is None or self._listener.dead):
            self.broadcast = self.open(self.opts.broadcast_path)
            if self.broadcast is not None:
                self._listener = gevent.spawn(self._listen, self.broadcast)
        return self.echo is not None

    def _listen(self, conn: ClientConnection) -> None:
        """Timestamp every broadcast that arrives, until the session ends."""
        for message in conn:
            received = time.time()
            try:
                sent = json.loads(message)["t"]
            except (ValueError, KeyError, TypeError):
                continue  # somebody else's traffic on a shared service
            self.report("broadcast", max(0.0, (received - sent) * 1000), len(message))
        if not self._stopping:
            self.report_close(conn, "broadcast")

    # -- behaviour ----------------------------------------------------------

    def wait_time(self) -> float:
        """Constant pacing: one echo every ``--message-interval`` seconds."""
        now = time.perf_counter()
        self._next_echo = max(self._next_echo + self.opts.message_interval, now)
        return self._next_echo - now

    @task
    def exchange(self) -> None:
        """One echo round trip, plus a broadcast when one is due."""
        if not self.ensure_sessions():
            return
        if self.broadcast is not None and self.opts.broadcast_interval > 0:
            now = time.perf_counter()
            if self._next_broadcast is None:  # spread the first broadcasts out
                self._next_broadcast = now + random.uniform(0, self.opts.broadcast_interval)
            if now >= self._next_broadcast:
                self._next_broadcast = now + self.opts.broadcast_interval
                self.broadcast.send(self.broadcast_message())
        self.echo_round_trip()

    def payload(self) -> str:
        head = f"{self.user_id}:{next(self._seq)}:"
        return head + "x" * max(0, self.opts.message_size - len(head))

    def broadcast_message(self) -> str:
        body = {"t": time.time(), "u": self.user_id, "p": ""}
        pad = self.opts.message_size - len(json.dumps(body))
        body["p"] = "x" * max(0, pad)
        return json.dumps(body)

    def echo_round_trip(self) -> None:
        assert self.echo is not None
        message = self.payload()
        start = time.perf_counter()
        deadline = start + self.opts.reply_timeout
        self.echo.send(message)
        while True:
            try:
                reply = self.echo.recv(timeout=max(0.0, deadline - time.perf_counter()))
            except TimeoutError as exc:
                self.report("echo rtt", (time.perf_counter() - start) * 1000, exception=exc)
                return
            if reply is None:
                self.report_close(self.echo, "echo")
                self.echo = None
                return
            if reply == message:
                self.report("echo rtt", (time.perf_counter() - start) * 1000, len(reply))
                return
            # else: a late reply to an earlier, timed-out message; keep waiting

    def on_stop(self) -> None:
        self._stopping = True
        for conn in (self.echo, self.broadcast):
            if conn is not None:
                conn.close()
        if self._listener is not None:
            self._listener.kill(block=False)


class WebSocketUser(SockJSUser):
    """SockJS over WebSocket (``/websocket``)."""

    transport = "websocket"


class XhrStreamingUser(SockJSUser):
    """Receives on a streaming POST response, sends with ``xhr_send``."""

    transport = "xhr-streaming"


class EventSourceUser(SockJSUser):
    """Receives as server-sent events, sends with ``xhr_send``."""

    transport = "eventsource"


class XhrPollingUser(SockJSUser):
    """Receives by long polling, sends with ``xhr_send``."""

    transport = "xhr-polling"


USER_CLASSES = [WebSocketUser, XhrStreamingUser, EventSourceUser, XhrPollingUser]
