"""Client sessions for the cluster tests: every transport, through HAProxy.

``open_session`` opens one with sockjs_gevent.client, or, for
``jsonp-polling`` (which that client lacks), with the small raw-HTTP
transport below. ``Collector`` gathers what a session receives in a
greenlet so a test can wait for a count or a marker.
"""

from __future__ import annotations

import itertools
import json
import random
import string
import time
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import gevent
from gevent.event import Event
from gevent.queue import Queue

from sockjs_gevent.client import ClientConnection, ConnectError, connect
from sockjs_gevent.client.http import HttpClient, HttpError
from sockjs_gevent.client.transports import Transport

if TYPE_CHECKING:  # pragma: no cover
    from tests.cluster.clusterproc import Cluster

TRANSPORTS = ("websocket", "xhr-streaming", "xhr-polling", "jsonp-polling")
#: What the server's /stats calls each client transport: the same names.
SERVER_NAME = {t: t for t in TRANSPORTS}
JSONP_CALLBACK = "cb"


class JsonpPollingTransport(Transport):
    """GET /jsonp?c=cb for each frame, POST /jsonp_send (form-encoded) to send."""

    name = "jsonp-polling"

    def start(self) -> None:
        self.http = HttpClient(self.host, self.port, self.timeout)
        self.send_http = HttpClient(self.host, self.port, self.timeout)
        self.outbox: Queue = Queue()
        super().start()
        self._greenlets.append(gevent.spawn(self._send_loop))

    def _run(self) -> None:
        head, tail = f"/**/{JSONP_CALLBACK}(".encode(), b");\r\n"
        try:
            while not self.conn.closed:
                response = self.http.request("GET", f"{self.session_path}/jsonp?c={JSONP_CALLBACK}", self.headers)
                body = self.http.read_body()
                if response.status != 200 or not (body.startswith(head) and body.endswith(tail)):
                    raise HttpError(f"jsonp answered {response.status}: {body[:200]!r}")
                self.conn.handle_frame(json.loads(body[len(head) : -len(tail)]))
        except HttpError as exc:
            self.conn.broken(1006, f"jsonp-polling failed: {exc}")

    def send(self, message: str) -> None:
        self.outbox.put(message)

    def _send_loop(self) -> None:
        headers = [("Content-Type", "application/x-www-form-urlencoded"), *self.headers]
        while True:
            batch = [self.outbox.get()]
            while not self.outbox.empty():
                batch.append(self.outbox.get_nowait())
            body = ("d=" + quote(json.dumps(batch))).encode()
            try:
                response = self.send_http.request("POST", f"{self.session_path}/jsonp_send", headers, body)
                self.send_http.read_body()
            except HttpError as exc:
                self.conn.broken(1006, f"jsonp_send failed: {exc}")
                return
            if response.status != 200:
                self.conn.broken(1006, f"jsonp_send answered {response.status}")
                return

    def close(self, code: int, reason: str) -> None:
        super().close(code, reason)
        self.http.close()
        self.send_http.close()


def connect_jsonp(url: str, server_id: str, timeout: float = 10.0) -> ClientConnection:
    """Open a jsonp-polling session, as ``sockjs_gevent.client.connect`` does for the others."""
    parts = urlsplit(url)
    session_id = "".join(random.choices(string.ascii_lowercase + string.digits, k=12))
    conn = ClientConnection(url)
    impl = JsonpPollingTransport(
        conn,
        parts.hostname or "127.0.0.1",
        parts.port or 80,
        f"{parts.path.rstrip('/')}/{server_id}/{session_id}",
        (),
        timeout,
    )
    conn.transport = impl
    impl.start()
    if not conn.opened.wait(timeout) or not conn.was_opened:
        conn.close()
        raise ConnectError(f"jsonp-polling session at {url} did not open: {conn.close_code} {conn.close_reason}")
    return conn


def open_session(url: str, transport: str, server_id: str, timeout: float = 10.0) -> ClientConnection:
    """A session on ``url`` over ``transport`` with the given server_id."""
    if transport == "jsonp-polling":
        return connect_jsonp(url, server_id, timeout)
    return connect(url, transport=transport, server_id=server_id, timeout=timeout)


class Collector:
    """Reads a session in a greenlet: ``messages`` grows; ``wait_for`` blocks on a predicate."""

    def __init__(self, conn: ClientConnection, label: str = "") -> None:
        self.conn = conn
        self.label = label or conn.transport_name
        self.messages: list[str] = []
        self._changed = Event()
        self.ended = False
        self.greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        for message in self.conn:
            self.messages.append(message)
            self._changed.set()
        self.ended = True
        self._changed.set()

    def wait_for(self, predicate, timeout: float, what: str = "") -> None:
        """Block until ``predicate(messages)`` holds; AssertionError after ``timeout``."""
        with gevent.Timeout(
            timeout, AssertionError(f"{self.label}: timed out waiting for {what}; got {self.messages[-10:]}")
        ):
            while not predicate(self.messages):
                if self.ended:
                    raise AssertionError(
                        f"{self.label}: closed {self.conn.close_code} {self.conn.close_reason!r} "
                        f"while waiting for {what}; got {self.messages[-10:]}"
                    )
                self._changed.clear()
                self._changed.wait()

    def wait_closed(self, timeout: float) -> tuple[int | None, str]:
        with gevent.Timeout(timeout, AssertionError(f"{self.label}: still open after {timeout} s")):
            self.greenlet.join()
        return self.conn.close_code, self.conn.close_reason

    def close(self) -> None:
        self.conn.close()
        self.greenlet.kill(block=False)


def send_until_received(sender: Collector, receivers: list[Collector], stem: str, timeout: float = 10.0) -> str:
    """Send ``stem n`` from ``sender`` until one reaches every receiver (each try waits 0.5 s); which one did.

    A worker subscribes to a channel on Redis when its first member's
    handler joins it, a moment after that session has opened, and after
    Redis restarts only once it reconnects: a publish sent at once may miss it.
    """
    deadline = time.monotonic() + timeout
    for n in itertools.count():
        probe = f"{stem} {n}"
        sender.conn.send(probe)
        try:
            for receiver in receivers:
                receiver.wait_for(lambda got, probe=probe: probe in got, 0.5, repr(probe))
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            continue
        return probe
    raise AssertionError("unreachable")


def open_everywhere(cluster: Cluster, prefix: str) -> dict[tuple[str, str], Collector]:
    """One session per (worker, transport), each placed by a server_id that lands on that worker."""
    ids = cluster.server_ids(prefix)
    url = cluster.url(prefix)
    return {
        (worker, transport): Collector(open_session(url, transport, ids[worker][0]), f"{transport}@{worker}")
        for worker in ids
        for transport in TRANSPORTS
    }
