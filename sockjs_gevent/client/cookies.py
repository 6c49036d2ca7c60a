"""The client's cookies: what a session's requests send, and learn from its answers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http.cookies import CookieError, SimpleCookie


class CookieJar:
    """Cookies of one session's server: sent with every request, updated from every answer.

    One host, so no domain or path matching, and no expiry: enough for
    what SockJS deployments set (``JSESSIONID`` for a sticky balancer, a
    login cookie). ``Max-Age=0`` removes a cookie.
    """

    def __init__(self, initial: Mapping[str, str] | None = None) -> None:
        self.cookies: dict[str, str] = dict(initial or {})

    def header(self) -> list[tuple[str, str]]:
        """The ``Cookie`` header for a request (none when the jar is empty)."""
        if not self.cookies:
            return []
        return [("Cookie", "; ".join(f"{name}={value}" for name, value in self.cookies.items()))]

    def learn(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        """Take in the ``Set-Cookie`` headers of an answer."""
        for name, value in headers:
            if name.lower() != b"set-cookie":
                continue
            parsed: SimpleCookie = SimpleCookie()
            try:
                parsed.load(value.decode("latin-1"))
            except CookieError:
                continue
            for key, morsel in parsed.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = morsel.value
