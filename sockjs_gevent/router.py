"""Several SockJS services (and an optional fallback WSGI app) in one process."""

from __future__ import annotations

import collections.abc
from collections.abc import Callable, Iterable, Sequence

from .app import SockJS
from .callables import check_wsgi_app, looks_like_handler, service_example
from .responses import Environ, StartResponse, not_found

WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class Router:
    """Dispatch requests to the service whose prefix matches, longest first.

    Requests under no prefix go to ``fallback`` (e.g. a Flask app) or 404.
    Anything but a list of ``SockJS`` services and a WSGI fallback is a
    TypeError here that says what to write, not an AttributeError per request.
    """

    def __init__(self, services: Sequence[SockJS], fallback: WSGIApp | None = None) -> None:
        if isinstance(services, SockJS) or looks_like_handler(services):
            raise TypeError(f"Router takes a list of SockJS services: Router([{service_example(services)}])")
        if (
            callable(services)
            or not isinstance(services, collections.abc.Iterable)
            or isinstance(services, (str, bytes))
        ):
            raise TypeError(_not_a_service(services))
        if fallback is not None:
            if looks_like_handler(fallback):
                raise TypeError(
                    f"Router's fallback is a WSGI app (e.g. a Flask app), not a SockJS handler: mount "
                    f"the handler as a service, Router([{service_example(fallback)}])"
                )
            check_wsgi_app(fallback, "Router(fallback=...)")
        self.fallback = fallback
        self._by_prefix: dict[str, SockJS] = {}
        #: How many segments the mounted prefixes have, most first ("/echo": 1, "": 0).
        self._depths: tuple[int, ...] = ()
        #: The mounted services, longest prefix first.
        self.services: list[SockJS] = []
        for service in services:
            self.add(service)

    def service_for(self, path: str) -> SockJS | None:
        """The service whose prefix is ``path`` or a leading run of its segments, the longest."""
        by_prefix = self._by_prefix
        # One lookup per depth a prefix has (one, for services mounted at
        # one segment each), not one per segment of the path: a session
        # URL has three below its prefix.
        for depth in self._depths:
            end = 0
            for _ in range(depth):
                end = path.find("/", end + 1)
                if end < 0:
                    break
            service = by_prefix.get(path if end < 0 else path[:end])
            if service is not None:
                return service
        return None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        service = self.service_for(environ.get("PATH_INFO", ""))
        if service is not None:
            return service(environ, start_response)
        if self.fallback is not None:
            return self.fallback(environ, start_response)
        return not_found(environ, start_response)

    def add(self, service: SockJS) -> None:
        """Mount one more service; its prefix must be free."""
        if not isinstance(service, SockJS):
            raise TypeError(_not_a_service(service))
        if service.prefix in self._by_prefix:
            raise ValueError(f"two services share the prefix {service.prefix!r}")
        self._by_prefix[service.prefix] = service
        self.services = sorted(self._by_prefix.values(), key=lambda s: len(s.prefix), reverse=True)
        self._depths = tuple(sorted({prefix.count("/") for prefix in self._by_prefix}, reverse=True))


def _not_a_service(obj: object) -> str:
    """What to tell someone who gave a Router ``obj`` as a service."""
    if isinstance(obj, Router):
        return "Router takes SockJS services, not another Router: mount its services, Router([*other.services, ...])"
    if looks_like_handler(obj):
        return f"Router takes SockJS services, not handler functions: Router([{service_example(obj)}])"
    if callable(obj):
        return (
            f"Router takes a list of SockJS services, and {obj!r} is not one: a WSGI app (a Flask app) that "
            f"serves everything else is the fallback, Router([SockJS(echo, prefix='/echo')], fallback=app)"
        )
    return f"Router takes SockJS services: Router([SockJS(echo, prefix='/echo')]), got {obj!r}"
