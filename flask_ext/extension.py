"""The Flask extension: SockJS handlers as decorated functions of a Flask app."""

from __future__ import annotations

import difflib
import functools
import io
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from flask import Blueprint, Flask
from flask.blueprints import BlueprintSetupState
from flask.testing import FlaskClient
from werkzeug.exceptions import HTTPException

from sockjs_gevent import Connection, Refuse, Router, budget
from sockjs_gevent import SockJS as Service
from sockjs_gevent.callables import check_handler, hook_caller
from sockjs_gevent.channels import Member
from sockjs_gevent.multiplex import DEFAULT_MAX_STREAMS, Multiplexer, Stream
from sockjs_gevent.options import Options
from sockjs_gevent.origins import open_to_every_page
from sockjs_gevent.server import serve
from sockjs_gevent.testing import HandlerClient


def _config_key(option: str) -> str:
    return "SOCKJS_URL" if option == "sockjs_url" else "SOCKJS_" + option.upper()


#: Flask config keys and the sockjs_gevent option each sets a default for:
#: one per option (SOCKJS_HEARTBEAT_DELAY, SOCKJS_MAX_QUEUED_BYTES, ...),
#: made from the options object so none can be missing.
CONFIG_KEYS = {_config_key(f.name): f.name for f in fields(Options) if f.name != "prefix"}
#: The one process-wide setting: sockjs_gevent.budget's limit, set when the extension is set up.
BUDGET_KEY = "SOCKJS_MAX_BUFFERED_BYTES"

#: Config keys that start with SOCKJS_ but are not the extension's: the
#: environment's names (SOCKJS_GEVENT_REDIS_URL...), which some apps copy into config.
FOREIGN_KEY_PREFIX = "SOCKJS_GEVENT_"

log = logging.getLogger("sockjs_gevent.flask")

Handler = Callable[[Connection], Any]
StreamHandler = Callable[[Stream], Any]
Hook = Callable[[Connection], bool | None]


@dataclass
class _Route:
    prefix: str
    #: The decorated handler; None when ``make_handler`` makes one per app.
    handler: Handler | None
    options: dict[str, Any]
    before_open: Hook | None
    #: Makes the service's handler for one app (a multiplexed route's
    #: Multiplexer); by default it is ``handler`` in the opening request's context.
    make_handler: Callable[[Flask], Handler] | None = None


@dataclass
class _AppState:
    """What the extensions keep per Flask app (in ``app.extensions["sockjs"]``, shared by every ``SockJS`` of it)."""

    router: Router
    services: dict[str, Service] = field(default_factory=dict)


class SockJS:
    """SockJS services inside a Flask app, one WSGI app for both.

    >>> sockjs = SockJS(app)          # or: sockjs = SockJS(); sockjs.init_app(app)
    >>> @sockjs.route("/chat")
    ... def chat(conn):
    ...     for message in conn:
    ...         conn.send(message)

    Handlers run in the app context, with a request context built from the
    request that opened the session: ``flask.request.cookies``,
    ``flask.session`` and login extensions work for authentication.
    """

    def __init__(self, app: Flask | None = None) -> None:
        self._routes: list[_Route] = []
        self._hooks: list[Hook] = []
        self._apps: list[Flask] = []
        #: Prefixes mounted with the default origins ("*") and no hook yet: a
        #: hook of the extension's added later makes each worth a warning.
        self._open_to_all: dict[str, None] = {}  # (a set that keeps order)
        if app is not None:
            self.init_app(app)

    # -- setup -------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Put the SockJS router in front of ``app.wsgi_app`` and mount the routes.

        Several extensions may share one app (a blueprint package bringing
        its own ``SockJS()``): the first puts the router in front, the
        others mount their routes on it, each with its own ``before_open``
        hooks. A prefix mounted twice is a ValueError. Setting up the same
        extension on the same app again does nothing.
        """
        if any(known is app for known in self._apps):
            return
        if "sockjs" not in app.extensions:
            _check_config_keys(app.config)
            if app.config.get(BUDGET_KEY) is not None:
                budget.configure(app.config[BUDGET_KEY])  # (ValueError at once if it cannot work)
            router = Router([], fallback=app.wsgi_app)
            app.wsgi_app = router  # type: ignore[method-assign]  # (Flask's documented way to add a WSGI middleware)
            app.extensions["sockjs"] = _AppState(router)
        self._apps.append(app)
        for route in self._routes:
            self._mount(app, route, route.prefix)

    def route(
        self,
        prefix: str,
        *,
        blueprint: Blueprint | None = None,
        before_open: Hook | None = None,
        **options: Any,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated function as the handler of a SockJS service.

        ``options`` are sockjs_gevent options (``heartbeat_delay=5``...); they
        override the app's ``SOCKJS_*`` config. With ``blueprint``, the
        service lives under the blueprint's ``url_prefix`` wherever it is
        registered. ``before_open`` is a per-route hook (see
        `before_open`).
        """

        hook = hook_caller(before_open, "before_open") if before_open is not None else None

        def decorator(handler: Handler) -> Handler:
            check_handler(handler)
            self._add(_Route(prefix, handler, options, hook), blueprint)
            return handler

        return decorator

    def multiplex(
        self,
        prefix: str,
        *,
        blueprint: Blueprint | None = None,
        before_open: Hook | None = None,
        max_streams: int = DEFAULT_MAX_STREAMS,
        **options: Any,
    ) -> MultiplexRoute:
        """A SockJS service at ``prefix`` carrying many streams (see ``sockjs_gevent.multiplex``).

        >>> mux = sockjs.multiplex("/mux")
        >>> @mux.stream("chat")
        ... def chat(stream):
        ...     for message in stream:
        ...         stream.send(message)

        Stream handlers run in a request context of the request that opened
        the SockJS session, as route handlers do; ``before_open`` hooks
        (the extension's and this one) decide whether that session opens at
        all. ``max_streams`` and ``options`` are as for ``Multiplexer`` and
        ``route``.
        """
        hook = hook_caller(before_open, "before_open") if before_open is not None else None
        mux = MultiplexRoute(max_streams)
        self._add(_Route(prefix, None, options, hook, make_handler=mux._for_app), blueprint)
        return mux

    def _add(self, route: _Route, blueprint: Blueprint | None) -> None:
        if blueprint is not None:

            def on_register(state: BlueprintSetupState) -> None:
                assert isinstance(state.app, Flask)  # (a flask.Blueprint is registered on a Flask app)
                self._mount(state.app, route, (state.url_prefix or "") + route.prefix)

            blueprint.record(on_register)
        else:
            self._routes.append(route)
            for app in self._apps:
                self._mount(app, route, route.prefix)

    def before_open(self, hook: Hook) -> Hook:
        """Register a hook run before any session of this extension opens.

        It runs in the opening request's context and gets the connection.
        Returning False refuses the client (close 3003 "Forbidden"); raising
        ``Refuse(code, reason)`` refuses with that code; an
        ``HTTPException`` such as ``abort(401)`` maps to 4000 + its status.
        """
        self._hooks.append(hook_caller(hook, "before_open"))
        open_to_all, self._open_to_all = self._open_to_all, {}
        for prefix in open_to_all:
            _warn_open_to_all(prefix)
        return hook

    def _mount(self, app: Flask, route: _Route, prefix: str) -> None:
        if not any(known is app for known in self._apps):
            self.init_app(app)  # a blueprint's route sets the extension up on the app it is registered on
        state: _AppState = app.extensions["sockjs"]
        options = {option: app.config[key] for key, option in CONFIG_KEYS.items() if key in app.config}
        options.update(route.options)
        if route.make_handler is not None:
            handler = route.make_handler(app)
        else:
            assert route.handler is not None
            handler = _in_request_context(app, route.handler)
        if "allowed_origins" not in options:
            # The service always gets a before_open (_check_open: hooks may be
            # added later), which alone would make it warn that it authenticates
            # with every origin allowed. Give it the default explicitly and warn
            # here, for routes that have a hook of the user's.
            options["allowed_origins"] = Options.allowed_origins
            if self._hooks or route.before_open is not None:
                _warn_open_to_all(prefix)
            else:
                self._open_to_all[prefix] = None
        service = Service(
            handler,
            prefix,
            before_open=functools.partial(self._check_open, app, route),
            **options,
        )
        state.router.add(service)
        state.services[prefix] = service

    def _check_open(self, app: Flask, route: _Route, conn: Connection) -> bool | None:
        """Run the global hooks, then the route's, in the opening request's context."""
        hooks = [*self._hooks, *([route.before_open] if route.before_open else [])]
        if not hooks:
            return None
        with app.request_context(_request_environ(conn.environ)):
            for hook in hooks:
                try:
                    verdict = hook(conn)
                except HTTPException as exc:
                    raise Refuse(4000 + exc.code if exc.code and exc.code < 1000 else 4000, exc.name) from None
                if verdict is False:
                    return False
        return None

    # -- publishing ---------------------------------------------------------

    def publish(self, room: str, text: str, *, route: str | None = None, exclude: Member | str | None = None) -> int:
        """Send ``text`` to every member of channel ``room`` of the SockJS route ``route``.

        The room is the one the route's handlers join with
        ``conn.channel(room)``; call this from anywhere in the process: a
        Flask view, a CLI command, a background greenlet. ``route`` is the
        route's path as mounted (``"/chat"``, ``"/api/chat"`` under a
        blueprint's ``url_prefix``); it may be left out when the app has
        one SockJS route. ``exclude`` (a connection or its ``conn.id``) is
        skipped.

        Returns how many members in this process it was queued for. With
        Redis (``SOCKJS_GEVENT_REDIS_URL``) the members on every other
        worker get it too, a moment later, and are not counted; a process
        that exits right after publishing (a CLI command) calls
        ``sockjs_gevent.channels.flush()`` before it ends.
        """
        return self._route_service(route, "publish").publish(room, text, exclude)

    def publish_json(
        self, room: str, value: Any, *, route: str | None = None, exclude: Member | str | None = None
    ) -> int:
        """``publish`` ``value`` as JSON text (what ``conn.recv_json()`` and the browser's ``JSON.parse`` decode)."""
        return self._route_service(route, "publish_json").publish_json(room, value, exclude)

    def _route_service(self, route: str | None, call: str) -> Service:
        """The service mounted at ``route`` in this extension's apps (the only one if ``route`` is None).

        Mistakes raise saying what to write: no app yet (RuntimeError), no
        route or an unknown one (ValueError), several routes and no
        ``route=`` (TypeError).
        """
        if not self._apps:
            raise RuntimeError(
                f"sockjs.{call}() before the extension is set up on a Flask app: create it with "
                "SockJS(app), or call sockjs.init_app(app) first"
            )
        services: dict[str, Service] = {}
        for app in self._apps:
            for prefix, service in app.extensions["sockjs"].services.items():
                services.setdefault(prefix, service)
        example = f"sockjs.{call}(room, {'value' if call == 'publish_json' else 'text'}, route="
        if route is None:
            if len(services) == 1:
                return next(iter(services.values()))
            if not services:
                raise ValueError(
                    f"sockjs.{call}() before any SockJS route is registered: register the route first "
                    f"(@sockjs.route('/chat') on its handler), then {example}'/chat')"
                )
            routes = sorted(services)
            raise TypeError(
                f"sockjs.{call}() needs route= when the app has several SockJS routes "
                f"({', '.join(routes)}): {example}{routes[0]!r})"
            )
        if not isinstance(route, str):
            raise TypeError(f"route is a SockJS route's path, e.g. {example}'/chat'), got {route!r}")
        service = services.get(route)
        if service is None:
            if not services:
                raise ValueError(
                    f"no SockJS route {route!r} yet: register it with @sockjs.route({route!r}) "
                    f"before sockjs.{call}() publishes to its rooms"
                )
            match = difflib.get_close_matches(route, list(services), n=1)
            hint = f": did you mean {example}{match[0]!r})?" if match else ""
            raise ValueError(f"no SockJS route {route!r} in this app (its routes: {', '.join(sorted(services))}){hint}")
        return service

    # -- running and testing ------------------------------------------------

    def run(self, app: Flask, host: str = "127.0.0.1", port: int = 5000, **kwargs: Any) -> None:
        """Serve the app and its SockJS services on gevent (like ``app.run``).

        Keywords are ``sockjs_gevent.serve``'s; ``app.run``'s own ones
        (``debug``, ``use_reloader``, ``threaded``...) are a TypeError that
        says what to do instead.
        """
        flask_only = sorted(set(kwargs) & _FLASK_RUN_ONLY)
        if flask_only:
            raise TypeError(
                f"sockjs.run() takes sockjs_gevent.serve()'s keywords, not app.run()'s {', '.join(flask_only)}: "
                "it serves on gevent, not Werkzeug's development server. For Flask's debug behaviour set "
                "app.debug = True (or FLASK_DEBUG=1); restart the process yourself after code changes."
            )
        serve(app, host, port, **kwargs)

    def service(self, app: Flask, prefix: str) -> Service:
        """The sockjs_gevent service mounted at ``prefix`` in ``app``."""
        state: _AppState | None = app.extensions.get("sockjs")
        if state is None or prefix not in state.services:
            known = ", ".join(sorted(state.services)) if state else "none"
            raise KeyError(f"no SockJS route {prefix!r} in this app (routes: {known})")
        return state.services[prefix]

    def test_client(
        self,
        app: Flask,
        prefix: str,
        headers: dict[str, str] | None = None,
        cookies: dict[str, str] | None = None,
        transport: str = "websocket",
        *,
        query_string: str = "",
        session: dict[str, Any] | None = None,
        flask_client: FlaskClient | None = None,
        raise_errors: bool = True,
    ) -> HandlerClient:
        """A client for unit tests: talks to the route's handler, no network.

        ``send(...)`` delivers messages, ``recv()`` returns what the handler
        sent, ``wait_closed()`` gives the close code; ``refused`` tells if a
        before_open hook turned the client away; an exception the handler
        raised is raised in the test. Use it as a context manager, under
        gevent (no monkey-patching needed).

        The opening request carries ``query_string``, ``headers`` and
        ``cookies``; ``session={"user": "ann"}`` signs a Flask session for
        it (a logged-in user), and ``flask_client=`` takes the cookies of a
        Flask test client that logged in through your views.
        """
        all_cookies = dict(cookies or {})
        if flask_client is not None:
            all_cookies.update(_client_cookies(flask_client))
        if session is not None:
            all_cookies[app.config["SESSION_COOKIE_NAME"]] = _signed_session(app, session)
        return HandlerClient(
            self.service(app, prefix),
            headers=headers,
            cookies=all_cookies,
            transport=transport,
            query_string=query_string,
            raise_errors=raise_errors,
        )


class MultiplexRoute:
    """The streams of one ``sockjs.multiplex(prefix)`` service: ``@mux.stream(name)`` adds one.

    Streams may be added before or after the app is set up; each app (and
    each blueprint registration) gets its own ``Multiplexer``, whose stream
    handlers run in that app's request context.
    """

    def __init__(self, max_streams: int) -> None:
        Multiplexer(max_streams=max_streams)  # check it now, not at mount time
        self.max_streams = max_streams
        self._streams: dict[str, StreamHandler] = {}
        self._mounted: list[tuple[Flask, Multiplexer]] = []

    def stream(self, name: str) -> Callable[[StreamHandler], StreamHandler]:
        """Register the decorated function as the handler of stream ``name``.

        The browser opens it with websocket-multiplex's ``multiplexer.channel(name)``.
        """

        def decorator(handler: StreamHandler) -> StreamHandler:
            check_handler(handler, "stream handler")
            if name in self._streams:
                raise ValueError(f"stream {name!r} already has a handler ({self._streams[name]!r})")
            for app, mux in self._mounted:
                mux.add(name, _in_request_context(app, handler))
            self._streams[name] = handler
            return handler

        return decorator

    @property
    def names(self) -> list[str]:
        return list(self._streams)

    def _for_app(self, app: Flask) -> Multiplexer:
        mux = Multiplexer(
            {name: _in_request_context(app, handler) for name, handler in self._streams.items()},
            max_streams=self.max_streams,
        )
        self._mounted.append((app, mux))
        return mux


#: app.run() keywords that mean nothing to a gevent server.
_FLASK_RUN_ONLY = {
    "debug",
    "load_dotenv",
    "use_reloader",
    "use_debugger",
    "use_evalex",
    "threaded",
    "processes",
    "extra_files",
    "exclude_patterns",
    "reloader_interval",
    "reloader_type",
    "passthrough_errors",
    "ssl_context_flask",
}


def _check_config_keys(config: Any) -> None:
    """One warning naming every SOCKJS_* key the extension does not know, with the close match if any.

    A misspelled keyword option raises OptionsError; a misspelled config
    key would otherwise be ignored without a word.
    """
    known = [*CONFIG_KEYS, BUDGET_KEY]
    unknown = sorted(
        key
        for key in config
        if isinstance(key, str)
        and key.startswith("SOCKJS_")
        and key not in known
        and not key.startswith(FOREIGN_KEY_PREFIX)
    )
    if not unknown:
        return
    described = []
    for key in unknown:
        match = difflib.get_close_matches(key, known, n=1)
        described.append(f"{key} (did you mean {match[0]}?)" if match else key)
    log.warning(
        "unknown SockJS config key%s, ignored: %s (the extension's keys: flask_sockjs.CONFIG_KEYS and %s)",
        "s" if len(unknown) > 1 else "",
        ", ".join(described),
        BUDGET_KEY,
    )


def _warn_open_to_all(prefix: str) -> None:
    """What sockjs_gevent's SockJS logs for a before_open hook under the default origins, in Flask's terms."""
    log.warning(
        "%s",
        open_to_every_page(prefix or "/", "app.config['SOCKJS_ALLOWED_ORIGINS'] (or the route's allowed_origins=)"),
    )


def _signed_session(app: Flask, values: dict[str, Any]) -> str:
    """A session cookie value for ``values``, signed as the app's session interface does."""
    # (Flask's SecureCookieSessionInterface has it; the SessionInterface type the app declares does not)
    get_signing_serializer = getattr(app.session_interface, "get_signing_serializer", None)
    if get_signing_serializer is None:
        raise RuntimeError(
            "session= needs a session interface that signs cookies as Flask's does; pass cookies= or flask_client="
        )
    serializer = get_signing_serializer(app)
    if serializer is None:
        raise RuntimeError("the app has no SECRET_KEY: Flask cannot sign a session for the test client")
    return serializer.dumps(dict(values))


def _client_cookies(client: FlaskClient) -> dict[str, str]:
    jar = getattr(client, "_cookies", {})  # Werkzeug 3: {(domain, path, name): Cookie}
    return {cookie.key: cookie.value for cookie in jar.values()}


def _request_environ(environ: dict[str, Any]) -> dict[str, Any]:
    """The opening request's environ, with the streams WSGI requires."""
    full = dict(environ)
    full["wsgi.input"] = io.BytesIO()
    full["wsgi.errors"] = sys.stderr
    return full


def _in_request_context(app: Flask, func: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Run ``func(conn)`` (a connection or a stream) inside a request context of the opening request."""

    @functools.wraps(func)
    def run(conn: Any) -> Any:
        with app.request_context(_request_environ(conn.environ)):
            return func(conn)

    return run
