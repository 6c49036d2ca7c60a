"""The SockJS service as a WSGI application: routing, static answers, errors."""

from __future__ import annotations

import hashlib
import logging
import random
import re
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import ETags
from werkzeug.http import quote_etag

from .budget import BUDGET
from .callables import check_handler, hook_caller
from .connection import Connection, ConnectionInfo, Refuse
from .options import Options
from .origins import OriginPolicy, open_to_every_page, request_origin
from .reaper import Reaper
from .responses import (
    HTML,
    JSON,
    NO_CACHE,
    Environ,
    StartResponse,
    cache_for_a_year,
    cors,
    error,
    method_not_allowed,
    not_found,
    preflight,
    respond,
    session_cookie,
)
from .session import HANDLER_FAILED, OVER_BUDGET, SERVER_BUSY, Session, SessionRegistry
from .stats import Stats
from .transports import routes
from .transports.websocket import raw_websocket

if TYPE_CHECKING:  # pragma: no cover
    from .channels import Channel, Member

log = logging.getLogger("sockjs_gevent")

Handler = Callable[[Connection], Any]
BeforeOpen = Callable[[Connection], bool | None]

#: Session URLs' last segment -> what answers it.
_ROUTES = routes()
_SESSION_PATH = re.compile(r"^/([^/.]+)/([^/.]+)/([^/.]+)$")
_IFRAME_PATH = re.compile(r"^/iframe[0-9a-z._-]*\.html$")
_GREETING = b"Welcome to SockJS!\n"
_IFRAME_PAGE = """<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="{sockjs_url}"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe();
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>"""

_random = random.SystemRandom()


def _etags_parser() -> Callable[[str | None], ETags]:
    """``ETags.from_header`` where Werkzeug has it (its main branch deprecates ``http.parse_etags``), else that."""
    from_header: Callable[[str | None], ETags] | None = getattr(ETags, "from_header", None)
    if from_header is not None:  # pragma: no cover (Werkzeug >= 3.2)
        return from_header
    from werkzeug.http import parse_etags

    return parse_etags


_parse_etags = _etags_parser()

WRONG_SERVER = (
    "SockJS cannot run on Werkzeug's development server (Flask's app.run() or `flask run`): it cannot hold "
    "the long-lived requests and WebSockets SockJS needs, so every transport would hang. Serve the app on "
    "gevent instead: sockjs.run(app) with flask_sockjs, or sockjs_gevent.serve(app)."
)

#: Every service built in this process, so shutdown can close their sessions.
_services: weakref.WeakSet[SockJS] = weakref.WeakSet()


def close_all_sessions(code: int = 1001, reason: str = "Server shutting down") -> list[Session]:
    """Close every live session of every service in this process; returns them."""
    closed = []
    for service in list(_services):
        for session in list(service.live):
            session.close(code, reason)
            closed.append(session)
    return closed


class SockJS:
    """A SockJS service: a WSGI app that runs ``handler(conn)`` per session.

    >>> def echo(conn):
    ...     for message in conn:
    ...         conn.send(message)
    >>> app = SockJS(echo, prefix="/echo")

    Options are those of `sockjs_gevent.options.Options`; a bad
    value raises ``OptionsError`` here, not at request time.
    """

    def __init__(
        self, handler: Handler, prefix: str = "", *, before_open: BeforeOpen | None = None, **options: Any
    ) -> None:
        check_handler(handler)
        self.handler = handler
        #: Runs in the opening request's greenlet before a session opens;
        #: returning False or raising Refuse turns the client away. It may
        #: take the connection or nothing.
        self.before_open = hook_caller(before_open) if before_open is not None else None
        self.options = Options.build(prefix=prefix, **options)
        self.sessions = SessionRegistry()
        #: Open sessions of every transport (websocket ones are not in the registry).
        self.live: set[Session] = set()
        #: Counters for monitoring (see sockjs_gevent.stats.stats_app).
        self.stats = Stats()
        #: Handlers still running after their session closed (counted in max_sessions).
        self.reaper = Reaper(self.options.handler_close_timeout, self.options.prefix or "/", self.stats)
        _services.add(self)
        self.origins = OriginPolicy(self.options.allowed_origins)
        if before_open is not None and "allowed_origins" not in options:
            log.warning("%s", open_to_every_page(self.options.prefix or "/", "allowed_origins=[...]"))
        self._told_wrong_server = False
        page = _IFRAME_PAGE.format(sockjs_url=self.options.sockjs_url).encode("utf-8")
        self._iframe_page = page
        self._iframe_etag = quote_etag(hashlib.md5(page).hexdigest())

    @property
    def prefix(self) -> str:
        return self.options.prefix

    @property
    def path(self) -> str:
        """The service's path: its prefix, "/" at the root; its channels' scope (``conn.channel``, ``channel``)."""
        return self.options.prefix or "/"

    # -- channels -----------------------------------------------------------

    def channel(self, name: str) -> Channel:
        """This service's pub/sub channel ``name``: the room its handlers join with ``conn.channel(name)``.

        For code outside a handler (a web view, a background job); it is on
        the process's hub (``sockjs_gevent.channels``), so with Redis a
        publish reaches the room's members on every worker.
        """
        from .channels import default_hub

        return default_hub().channel(name, scope=self.path)

    def publish(self, room: str, text: str, exclude: Member | str | None = None) -> int:
        """Send ``text`` to every member of this service's channel ``room``, from anywhere in the process.

        ``service.channel(room).publish(text, exclude)`` in one call. Returns
        how many members of this process it was queued for; with Redis the
        room's members on other workers get it too, a moment later, and are
        not counted. A process that exits right after publishing (a CLI
        command) calls ``channels.flush()`` before it ends.
        """
        return self.channel(room).publish(text, exclude)

    def publish_json(self, room: str, value: Any, exclude: Member | str | None = None) -> int:
        """``publish`` ``value`` as JSON text (what ``conn.recv_json()`` and ``JSON.parse`` decode)."""
        return self.channel(room).publish_json(value, exclude)

    def open_session(
        self,
        session_id: str | None,
        environ: Environ,
        transport: str,
        raw: bool = False,
        handler: Handler | None = None,
    ) -> Session:
        """Create a session and start its handler greenlet (``handler``: instead of the service's)."""
        hook = self.before_open
        info = ConnectionInfo(transport, environ, self.path, all_headers=hook is not None)
        registry = self.sessions if session_id is not None else None
        options = self.options
        session = Session(
            info,
            options.disconnect_delay,
            registry,
            session_id,
            raw=raw,
            max_queued_bytes=options.max_queued_bytes,
            stats=self.stats,
            max_inbox_bytes=options.max_inbox_bytes,
            owner=self,
        )
        if registry is not None:
            registry.add(session)
        over_budget = BUDGET.over()
        busy = over_budget or 0 < options.max_sessions <= len(self.live) + len(self.reaper)
        self.live.add(session)
        connection = Connection(session)
        refusal = (OVER_BUDGET if over_budget else SERVER_BUSY) if busy else self._refusal(connection)
        if hook is not None:
            info.settle()
        self.stats.sessions_opened[transport] += 1
        if refusal is None:
            session.start(handler or self.handler, connection)
        else:
            self.stats.error(("over_budget" if over_budget else "busy") if busy else "refused")
            session.refuse(*refusal)
        return session

    def session_closed(self, session: Session) -> None:
        """Each of this service's sessions calls this once, as it closes."""
        self.live.discard(session)
        if session.handler_greenlet is not None and not session.handler_done:
            self.reaper.watch(session)  # closed under a running handler: counted until it returns
        self.stats.closed(session.close_code)

    def _refusal(self, connection: Connection) -> tuple[int, str] | None:
        """What before_open says: None to open, or the (code, reason) to close with."""
        if self.before_open is None:
            return None
        try:
            verdict = self.before_open(connection)
        except Refuse as refused:
            return refused.code, refused.reason
        except Exception:
            log.exception("before_open hook %r failed; refusing the connection", self.before_open)
            return HANDLER_FAILED
        return (Refuse().code, Refuse().reason) if verdict is False else None

    # -- WSGI ---------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        prefix = self.options.prefix
        if not path.startswith(prefix):
            return not_found(environ, start_response)
        software = environ.get("SERVER_SOFTWARE")
        if software is not None and software.startswith("Werkzeug/"):
            return self._wrong_server(environ, start_response)
        path = path[len(prefix) :]
        method = environ.get("REQUEST_METHOD", "GET")

        match = _SESSION_PATH.match(path)
        if match is not None:
            return self._session_request(match.group(2), match.group(3), method, environ, start_response)
        if path == "" or path == "/":
            if method != "GET":
                return method_not_allowed(environ, start_response, ("GET",))
            return respond(start_response, 200, [], _GREETING)
        if path == "/info":
            return self._info(method, environ, start_response)
        if _IFRAME_PATH.match(path):
            if not self.origins.allows(environ):
                return self._forbidden(environ, start_response)
            return self._iframe(method, environ, start_response)
        if path == "/websocket" and self.options.websocket:
            if method != "GET":
                return method_not_allowed(environ, start_response, ("GET",))
            if not self.origins.allows(environ):
                return self._forbidden(environ, start_response)
            return raw_websocket(self, environ, start_response)
        return not_found(environ, start_response)

    def _session_request(
        self, session_id: str, name: str, method: str, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        route = _ROUTES.get(name)
        if route is None or (route.websocket and not self.options.websocket):
            return not_found(environ, start_response)
        if route.http and self.options.jsessionid is not False:
            # Every answer on a session URL of an HTTP transport carries the
            # cookie, errors, refusals and preflights included, so the balancer sticks.
            start_response = _adding_headers(start_response, session_cookie(environ, self.options))
        if method not in route.methods:
            if method == "OPTIONS" and route.preflight:
                return preflight(environ, start_response, ", ".join(("OPTIONS", *route.methods)))
            return method_not_allowed(
                environ, start_response, (("OPTIONS",) if route.preflight else ()) + route.methods
            )
        if not self.origins.allows(environ):
            return self._forbidden(environ, start_response)
        return route.serve(self, session_id, environ, start_response)

    def _wrong_server(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Under Werkzeug's development server (Flask's app.run): say so, instead of hanging."""
        if not self._told_wrong_server:
            self._told_wrong_server = True
            log.error("%s", WRONG_SERVER)
        return error(environ, start_response, 500, WRONG_SERVER)

    def _forbidden(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        self.stats.error("origin")
        log.warning(
            "refused a request from origin %r to %s (not in allowed_origins)",
            request_origin(environ),
            environ.get("PATH_INFO"),
        )
        return error(environ, start_response, 403, "Forbidden: this origin may not use the service.")

    def _info(self, method: str, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if method == "OPTIONS":
            return preflight(environ, start_response, "OPTIONS, GET")
        if method != "GET":
            return method_not_allowed(environ, start_response, ("OPTIONS", "GET"))
        websocket = "true" if self.options.websocket else "false"
        cookie_needed = "true" if self.options.jsessionid else "false"
        entropy = _random.randint(0, 2**32 - 1)
        body = f'{{"websocket":{websocket},"cookie_needed":{cookie_needed},"origins":["*:*"],"entropy":{entropy}}}'
        return respond(start_response, 200, [*NO_CACHE, *cors(environ)], body.encode("ascii"), JSON)

    def _iframe(self, method: str, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if method != "GET":
            return method_not_allowed(environ, start_response, ("GET",))
        headers = [*cache_for_a_year(), ("ETag", self._iframe_etag)]
        frame_ancestors = self.origins.frame_ancestors(environ)
        if frame_ancestors is not None:
            # Only the page that asked may embed it: the iframe page runs
            # sockjs-client on the service's own origin, which is trusted.
            headers += [("Content-Security-Policy", frame_ancestors), ("Vary", "Referer")]
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and _parse_etags(if_none_match).contains_weak(self._iframe_etag.strip('"')):
            return respond(start_response, 304, headers, content_type=None)
        return respond(start_response, 200, headers, self._iframe_page, HTML)


def _adding_headers(start_response: StartResponse, extra: list[tuple[str, str]]) -> StartResponse:
    def wrapped(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, headers + extra, exc_info)

    return wrapped
