"""The handler's view of a session: a blocking, socket-like connection."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from . import protocol
from .cookies import request_cookies
from .session import Session

if TYPE_CHECKING:  # pragma: no cover
    from .channels import Channel
    from .stats import Stats

#: Request headers a handler may read (docs/protocol.md section 10). Others, such
#: as Authorization, are not shown: with HTTP transports every request of a
#: session carries its own headers, so only these stable ones are meaningful.
SAFE_HEADERS = (
    "referer",
    "x-forwarded-for",
    "x-real-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "via",
    "x-forwarded-proto",
    "host",
    "user-agent",
    "accept-language",
    "dnt",
)
_SAFE_KEYS = tuple(("HTTP_" + h.upper().replace("-", "_"), h) for h in SAFE_HEADERS)
#: The request headers a connection keeps once open: what it exposes.
_KEPT_HEADERS = frozenset(key for key, _ in _SAFE_KEYS) | {"HTTP_COOKIE"}

#: The environ keys kept from the opening request, for framework integration
#: (e.g. the Flask extension builds a request context from them).
_KEPT_KEYS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "wsgi.url_scheme",
)

#: What a kept environ says of itself in place of the opening request's values.
_WSGI_CONSTANTS = {
    "wsgi.version": (1, 0),
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
}


def check_close(code: int, reason: str) -> None:
    """Raise if (code, reason) is not an application close the protocol allows."""
    if not isinstance(code, int) or isinstance(code, bool) or not (code == 1000 or 3000 <= code <= 4999):
        raise ValueError(f"close code must be 1000 or in 3000-4999, got {code!r}")
    if not isinstance(reason, str):
        raise TypeError(f"close reason must be str, got {type(reason).__name__}")
    if len(reason.encode("utf-8", "surrogatepass")) > 123:
        raise ValueError("close reason must fit in 123 bytes of UTF-8 (the WebSocket limit)")


class Refuse(Exception):
    """Raise from a ``before_open`` hook to turn a client away.

    The client never sees the session open; its ``onclose`` gets ``code``
    and ``reason`` (default 3003 "Forbidden", the registered WebSocket code).
    """

    def __init__(self, code: int = 3003, reason: str = "Forbidden") -> None:
        check_close(code, reason)
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class ConnectionInfo:
    """Facts about the request that opened a session.

    ``environ`` is the opening request's environ while the session opens
    (a ``before_open`` hook sees every header); ``settle()`` then keeps only
    what a connection exposes (the safe headers and cookies), so an open
    session does not hold a client's whole request head.
    """

    __slots__ = ("transport", "environ", "_id")

    def __init__(
        self, transport: str, environ: Mapping[str, Any], path: str | None = None, all_headers: bool = True
    ) -> None:
        """``all_headers``: keep every request header until ``settle()`` (for a ``before_open`` hook);
        False keeps only what an open connection exposes, at once."""
        self.transport = transport
        # (map, zip and the set intersection loop in C: a websocket open
        # builds one of these, and a Python loop over the 22 keys cost more
        # than the rest of this class together)
        values = tuple(map(environ.get, _KEPT_KEYS))
        if None in values:  # (a key some server leaves out: REMOTE_PORT on a Unix socket)
            kept = {key: value for key, value in zip(_KEPT_KEYS, values, strict=True) if value is not None}
        else:
            kept = dict(zip(_KEPT_KEYS, values, strict=True))
        if path is not None:
            # The service's path, not the session URL: the application never
            # sees the session id (which would let it hijack the session).
            kept["PATH_INFO"] = path
        if all_headers:
            for key, value in environ.items():
                if key.startswith("HTTP_"):
                    kept[key] = value
        else:
            for key in environ.keys() & _KEPT_HEADERS:
                kept[key] = environ[key]
        kept.update(_WSGI_CONSTANTS)
        #: A copy of the opening request's WSGI environ without its streams.
        self.environ: dict[str, Any] = kept
        self._id: str | None = None

    @property
    def id(self) -> str:
        """A random id for this session, made on first use (never the session id)."""
        if self._id is None:
            self._id = uuid.uuid4().hex
        return self._id

    def settle(self) -> None:
        """The session is open: drop the headers a connection does not expose."""
        self.environ = {k: v for k, v in self.environ.items() if not k.startswith("HTTP_") or k in _KEPT_HEADERS}

    @property
    def remote_addr(self) -> str | None:
        return self.environ.get("REMOTE_ADDR")

    @property
    def service_path(self) -> str:
        """The service's path as given (``SockJS.path``), without ``SCRIPT_NAME``: what its channels are scoped by."""
        return self.environ.get("PATH_INFO", "")

    @property
    def path(self) -> str:
        return self.environ.get("SCRIPT_NAME", "") + self.environ.get("PATH_INFO", "")

    @property
    def headers(self) -> dict[str, str]:
        env = self.environ
        return {name: env[key] for key, name in _SAFE_KEYS if key in env}

    @property
    def cookies(self) -> dict[str, str]:
        return request_cookies(self.environ)


class Connection:
    """One client, as the handler sees it.

    ``recv()`` blocks until a message arrives and returns None once the
    session is closed; iterating yields messages until then. ``send()``
    never blocks: the transport writes in its own greenlet.

    Attributes of your own can be set on it (``conn.user = user``): they
    live as long as the connection.
    """

    __slots__ = ("_session", "__dict__")

    def __init__(self, session: Session) -> None:
        self._session = session

    def send(self, message: str) -> bool:
        """Send one text message; returns False (and drops it) once closed.

        Raises ValueError for a message that could never be queued: one
        larger than the service's ``max_queued_bytes``.
        """
        if not isinstance(message, str):
            raise TypeError(f"SockJS messages are text: send() takes str, got {type(message).__name__}")
        return self._session.send(message)

    def send_json(self, value: Any) -> bool:
        """Send ``value`` encoded as JSON text (``json.dumps``)."""
        return self.send(protocol.json_text(value))

    def recv_json(self, timeout: float | None = None) -> Any:
        """The next message decoded from JSON; None once closed.

        Raises ValueError (``json.JSONDecodeError``) for a message that is
        not JSON, TimeoutError as ``recv``.
        """
        message = self.recv(timeout)
        return None if message is None else json.loads(message)

    @property
    def id(self) -> str:
        """A random id, the same for the whole session; safe to show (it is not the session id).

        A connection that has joined a channel can be sent to by it:
        ``channels.send_to(conn_id, text)``, from any worker.
        """
        return self._session.info.id

    @property
    def close_reason(self) -> str:
        """The close reason once closed (e.g. "Connection interrupted"); "" before.

        When a websocket client closed: the reason its Close frame gave; if it
        gave none, the standard name of its code (1000 "Normal closure", 1001
        "Going away", 1005 "No status received" for a Close frame with no code),
        or "" for an application code (3000-4999).
        """
        return self._session.close_reason

    def on_close(self, callback: Callable[[Connection], object]) -> None:
        """Call ``callback(conn)`` once the connection closes (at once if it has).

        It may run in the event loop, so it must not block.
        """
        self._session.on_close(lambda session: callback(self))

    def channel(self, name: str) -> Channel:
        """The pub/sub channel ``name`` of this connection's service (see ``sockjs_gevent.channels``).

        Services have separate channel names: ``/chat``'s "lobby" is not
        ``/game``'s. ``channels.channel(name)`` is one name for the process.
        Outside a handler, ``service.channel(name)`` and ``service.publish(name,
        text)`` reach the same room.
        """
        from .channels import default_hub

        return default_hub().channel(name, scope=self._session.info.service_path)

    def send_quoted(self, message: str, quoted: str) -> bool:
        """Send a message already JSON-quoted by ``protocol.quote`` (broadcasts quote once)."""
        return self._session.send_quoted(message, quoted)

    @property
    def service_stats(self) -> Stats:
        """The counters of this connection's service (``service.stats``).

        For code that builds on a connection, such as the multiplexer, to
        count its own errors where the service's are counted.
        """
        return self._session.stats

    @property
    def max_inbox_bytes(self) -> int:
        """The service's ``max_inbox_bytes``: what may wait for this handler to read."""
        return self._session.max_inbox_bytes

    def recv(self, timeout: float | None = None) -> str | None:
        """Block for the next message; None once closed.

        With ``timeout`` (seconds), raise TimeoutError if nothing arrives.
        """
        return self._session.recv(timeout)

    def __iter__(self) -> Iterator[str]:
        recv = self._session.receiver()  # (Session.recv, one call less per message)
        while True:
            message = recv()
            if message is None:
                return
            yield message

    def close(self, code: int = 1000, reason: str = "Normal closure") -> None:
        """Close the session with ``code`` (1000 or 3000-4999) and ``reason``."""
        check_close(code, reason)
        self._session.close(code, reason)

    @property
    def closed(self) -> bool:
        """True once either side closed the session."""
        return self._session.closed

    @property
    def close_code(self) -> int | None:
        """The close code once closed (e.g. 1002 when the client vanished).

        When a websocket client closed: the code of its Close frame (1005 if it had none).
        """
        return self._session.close_code or None

    @property
    def transport(self) -> str:
        """The transport that opened the session, e.g. ``websocket`` or ``xhr_streaming``."""
        return self._session.info.transport

    @property
    def remote_addr(self) -> str | None:
        """The peer's IP address as the server saw it."""
        return self._session.info.remote_addr

    @property
    def path(self) -> str:
        """The path of the service the session belongs to (e.g. ``/chat``); no session id."""
        return self._session.info.path

    @property
    def headers(self) -> dict[str, str]:
        """The safe subset of the opening request's headers, lowercase names."""
        return self._session.info.headers

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies of the opening request."""
        return self._session.info.cookies

    @property
    def environ(self) -> dict[str, Any]:
        """The opening request's WSGI environ (no streams), for frameworks.

        Complete while ``before_open`` runs; afterwards only the safe
        headers and the cookies are left of its ``HTTP_*`` keys.
        """
        return self._session.info.environ

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Connection {self.transport} from {self.remote_addr} {state}>"
