"""The WSGI environ: one template per server, copied per connection and per request."""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import unquote_to_bytes

from ..peerwatch import SOCKET_KEY

SERVER_SOFTWARE = "sockjs-gevent/httptools"

#: Header name as it came on the wire -> environ key (None: dropped).
#: Filled as names are seen; bounded so odd names cannot grow it forever.
_KEYS: dict[bytes, str | None] = {}
_KEYS_MAX = 2048

#: Method bytes -> str, for the methods llhttp knows.
_METHODS: dict[bytes, str] = {}


def base_environ(server_name: str | None, server_port: int | None, https: bool) -> dict[str, Any]:
    """What every request of a server has in common (name and port are None on a Unix socket)."""
    return {
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(server_port),
        "SERVER_SOFTWARE": SERVER_SOFTWARE,
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SCRIPT_NAME": "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https" if https else "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }


def connection_environ(base: dict[str, Any], sock: Any, address: Any, taker: Any, take_key: str) -> dict[str, Any]:
    """What every request of one connection has in common."""
    environ = base.copy()
    if isinstance(address, tuple) and len(address) >= 2:
        environ["REMOTE_ADDR"] = address[0]
        environ["REMOTE_PORT"] = str(address[1])
    else:  # a Unix socket
        environ["REMOTE_ADDR"] = ""
    environ[SOCKET_KEY] = sock
    environ[take_key] = taker
    return environ


def header_key(name: bytes) -> str | None:
    """The environ key of a request header, or None for a name to drop.

    Names with ``_`` are dropped: ``X_Forwarded_For`` and
    ``X-Forwarded-For`` would map to the same key, and a client could pass
    one off as the other (as nginx and Apache do, by default).
    """
    key = _KEYS.get(name, "")
    if key != "":  # ("": not seen yet; no key is empty)
        return key
    text = name.decode("latin-1")
    if "_" in text:
        key = None
    else:
        upper = text.upper().replace("-", "_")
        key = upper if upper in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + upper
    if len(_KEYS) < _KEYS_MAX:
        _KEYS[name] = key
    return key


def method_name(raw: bytes) -> str:
    method = _METHODS.get(raw)
    if method is None:
        method = _METHODS[raw] = raw.decode("ascii")
    return method


def split_target(target: bytes) -> tuple[str, str]:
    """PATH_INFO and QUERY_STRING of a request target (origin, absolute or ``*`` form)."""
    if target[:1] != b"/":
        if target == b"*":
            return "*", ""
        # absolute form (http://host/path?query): drop scheme and authority
        scheme_end = target.find(b"://")
        if scheme_end > 0:
            slash = target.find(b"/", scheme_end + 3)
            query_at = target.find(b"?", scheme_end + 3)
            if slash < 0 or (0 <= query_at < slash):
                target = b"/" + (target[query_at:] if query_at >= 0 else b"")
            else:
                target = target[slash:]
    hash_at = target.find(b"#")
    if hash_at >= 0:
        target = target[:hash_at]
    path, _, query = target.partition(b"?")
    if path.find(b"%") >= 0:  # (not ``b"%" in path``: that raises and clears a TypeError inside)
        path = unquote_to_bytes(path)
    return path.decode("latin-1"), query.decode("latin-1")
