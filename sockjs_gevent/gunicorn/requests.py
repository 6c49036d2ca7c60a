"""What gunicorn does around each request, for this worker: the forwarded scheme, hooks, access log, wsgi.errors."""

from __future__ import annotations

import datetime
import ipaddress
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .worker import Worker

#: Private environ keys: when the app was called, and the headers it answered with.
STARTED = "sockjs_gevent.gunicorn.started"
RESPONSE_HEADERS = "sockjs_gevent.gunicorn.response_headers"


class ForwardedScheme:
    """gunicorn's ``secure_scheme_headers`` rule, for peers in ``forwarded_allow_ips``.

    A trusted peer (an allowed address, or any peer on a Unix socket) that
    sends one of the headers sets ``wsgi.url_scheme``: https when the value
    is the listed one, http otherwise; listed headers that disagree make
    the request a 400. Headers from other peers are ignored.
    """

    def __init__(self, secure_scheme_headers: dict[str, str], forwarded_allow_ips: Iterable[str]) -> None:
        self.headers = [
            ("HTTP_" + name.upper().replace("-", "_"), value) for name, value in secure_scheme_headers.items()
        ]
        allowed = list(forwarded_allow_ips)
        self.anyone = "*" in allowed
        self.networks = []
        for entry in allowed:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                pass  # (gunicorn validated the setting; "*" and junk match nothing here)
        self._trusted: dict[str, bool] = {}

    def trusted(self, address: str) -> bool:
        if self.anyone or not address:  # "" is a Unix socket peer: trusted, as in gunicorn
            return True
        known = self._trusted.get(address)
        if known is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                known = False
            else:
                known = any(ip in network for network in self.networks)
            if len(self._trusted) < 1024:
                self._trusted[address] = known
        return known

    def apply(self, environ: dict[str, Any]) -> bool:
        """Set ``wsgi.url_scheme`` from the headers; False when they contradict each other."""
        scheme = None
        for key, secure in self.headers:
            value = environ.get(key)
            if value is None:
                continue
            if not self.trusted(environ.get("REMOTE_ADDR", "")):
                return True
            said = "https" if value == secure else "http"
            if scheme is None:
                scheme = said
            elif said != scheme:
                return False
        if scheme is not None:
            environ["wsgi.url_scheme"] = scheme
        return True


class RequestInfo:
    """What gunicorn's hooks and access log read of a request (``req``), built from the environ."""

    __slots__ = ("method", "uri", "path", "query", "version", "headers", "scheme", "remote_addr")

    def __init__(self, environ: dict[str, Any]) -> None:
        self.method = environ.get("REQUEST_METHOD")
        self.uri = environ.get("RAW_URI")
        self.path = environ.get("PATH_INFO")
        self.query = environ.get("QUERY_STRING")
        self.version = (1, 1) if environ.get("SERVER_PROTOCOL") == "HTTP/1.1" else (1, 0)
        self.scheme = environ.get("wsgi.url_scheme")
        self.remote_addr = environ.get("REMOTE_ADDR")
        headers = [
            (key[5:].replace("_", "-"), value)
            for key, value in environ.items()
            if key.startswith("HTTP_") and isinstance(value, str)
        ]
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if key in environ:
                headers.append((key.replace("_", "-"), environ[key]))
        self.headers = headers


class ResponseInfo:
    """What gunicorn's access log and post_request read of an answer (``resp``)."""

    __slots__ = ("status", "status_code", "headers", "sent", "response_length")

    def __init__(self, code: int, headers: list[tuple[str, str]], sent: int) -> None:
        self.status = str(code)
        self.status_code = code
        self.headers = headers
        self.sent = self.response_length = sent


class GunicornAccess:
    """An HttpServer ``access_log``: gunicorn's access logger and post_request hook, per answered request."""

    def __init__(self, worker: Worker, log_access: bool, post_request: Callable[..., Any] | None) -> None:
        self.worker = worker
        self.log_access = log_access
        self.post_request = post_request

    def log(self, environ: dict[str, Any], status: int, size: int) -> None:
        started = environ.get(STARTED)
        elapsed = datetime.timedelta(seconds=time.time() - started) if started else datetime.timedelta(0)
        resp = ResponseInfo(status, environ.get(RESPONSE_HEADERS) or [], size)
        req = RequestInfo(environ)
        worker = self.worker
        try:
            if self.post_request is not None:
                self.post_request(worker, req, environ, resp)
            if self.log_access:
                # (duck-typed: gunicorn's access log reads only the attributes these carry)
                worker.log.access(resp, req, environ, elapsed)  # type: ignore[arg-type]
        except Exception:
            worker.log.exception("Error in post_request or the access log")


class ErrorStream:
    """``wsgi.errors``: what the app writes goes where gunicorn's error log writes.

    The streams are looked up at each write (gunicorn's ``WSGIErrorsWrapper``
    holds them, and USR1 reopens the files): writes here are rare.
    """

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    def write(self, data: str) -> None:
        from gunicorn.http.wsgi import WSGIErrorsWrapper

        # (it writes str to text streams; the stubs type data as bytes, after its RawIOBase base)
        WSGIErrorsWrapper(self.cfg).write(data)  # type: ignore[arg-type]

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass  # (each write is flushed)


def bad_request(start_response: Any, message: str) -> list[bytes]:
    body = message.encode("latin-1")
    start_response(
        "400 Bad Request", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), ("Connection", "close")]
    )
    return [body]
