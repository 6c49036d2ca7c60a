"""Several SockJS services (and an optional fallback WSGI app) in one process."""

from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence

from .app import SockJS
from .responses import Environ, StartResponse, not_found

WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class Router:
    """Dispatch requests to the service whose prefix matches, longest first.

    Requests under no prefix go to ``fallback`` (e.g. a Flask app) or 404.
    """

    def __init__(self, services: Sequence[SockJS], fallback: Optional[WSGIApp] = None) -> None:
        self.fallback = fallback
        self._by_prefix: dict[str, SockJS] = {}
        #: The mounted services, longest prefix first.
        self.services: list[SockJS] = []
        for service in services:
            self.add(service)

    def service_for(self, path: str) -> Optional[SockJS]:
        """The service whose prefix is ``path`` or a leading run of its segments."""
        by_prefix = self._by_prefix
        while True:  # /a/b/c, then /a/b, /a, "": at most one lookup per segment
            service = by_prefix.get(path)
            if service is not None or not path:
                return service
            path = path[: path.rfind("/")]

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        service = self.service_for(environ.get("PATH_INFO", ""))
        if service is not None:
            return service(environ, start_response)
        if self.fallback is not None:
            return self.fallback(environ, start_response)
        return not_found(environ, start_response)

    def add(self, service: SockJS) -> None:
        """Mount one more service; its prefix must be free."""
        if service.prefix in self._by_prefix:
            raise ValueError(f"two services share the prefix {service.prefix!r}")
        self._by_prefix[service.prefix] = service
        self.services = sorted(self._by_prefix.values(), key=lambda s: len(s.prefix), reverse=True)
