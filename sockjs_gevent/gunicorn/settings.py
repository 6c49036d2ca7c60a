"""gunicorn's settings for this worker: which it refuses, which it ignores, and the HttpConfig of the rest."""

from __future__ import annotations

import os
from typing import Any

from ..http import HttpConfig

#: gunicorn's own ceilings (gunicorn/http/message.py).
_MAX_REQUEST_LINE = 8190
_MAX_HEADERS = 32768
NAME = "sockjs_gevent.gunicorn.Worker"


def refusals(cfg: Any) -> list[str]:
    """The settings this worker cannot run with, one line each (empty when it can run)."""
    problems = []
    if cfg.threads > 1:
        problems.append(
            f"{NAME} runs greenlets, not threads: remove --threads {cfg.threads} and bound concurrent "
            f"connections per worker with --worker-connections (now {cfg.worker_connections})"
        )
    if cfg.preload_app:
        problems.append(
            f"{NAME} cannot preload the app (--preload): it would be imported in the arbiter before "
            "gevent's monkey-patching, and a blocking call in it would freeze every session of a worker; "
            "drop --preload (each worker imports the app right after patching)"
        )
    if cfg.is_ssl and cfg.workers > 1:
        problems.append(
            f"{NAME} with {cfg.workers} workers hands connections between them, and a TLS connection "
            "cannot move to another process: terminate TLS at nginx (examples/nginx.conf) or run -w 1 "
            "with certfile/keyfile"
        )
    if getattr(cfg, "proxy_protocol", False) not in (False, None, "off"):
        problems.append(
            f"{NAME} does not read the PROXY protocol: turn proxy_protocol off and have the proxy send "
            "X-Forwarded-For and X-Forwarded-Proto (see forwarded_allow_ips)"
        )
    if getattr(cfg, "protocol", "http") != "http":
        problems.append(f"{NAME} speaks HTTP only, not protocol = {cfg.protocol!r}")
    protocols = getattr(cfg, "http_protocols", None)
    if protocols and list(protocols) != ["h1"]:
        problems.append(f"{NAME} speaks HTTP/1.1 only: set http_protocols to h1 (now {','.join(protocols)})")
    return problems


#: Settings the worker ignores, with the value that means "not used" and why.
_IGNORED = (
    ("tmp_upload_dir", (None,), "request bodies stream to the app, nothing is spooled"),
    ("header_map", (None, "drop"), "header names with '_' are always dropped by this worker's HTTP server"),
    ("http_parser", (None, "auto"), "this worker parses HTTP with llhttp (httptools)"),
    ("permit_obsolete_folding", (None, False), "llhttp refuses obsolete line folding"),
    ("strip_header_spaces", (None, False), "llhttp refuses a space before a header's colon"),
    ("permit_unconventional_http_method", (None, False), "llhttp knows its own list of methods"),
    ("permit_unconventional_http_version", (None, False), "only HTTP/1.0 and HTTP/1.1 are served"),
    ("casefold_http_method", (None, False), "methods are taken as sent"),
)


def warnings(cfg: Any, environ: dict[str, str] | None = None) -> list[str]:
    """Settings this worker ignores, one line each."""
    lines = []
    for name, unused, why in _IGNORED:
        value = getattr(cfg, name, None)
        if value not in unused:
            lines.append(f"{NAME} ignores {name} = {value!r}: {why}")
    script_name = (environ if environ is not None else os.environ).get("SCRIPT_NAME")
    if script_name:
        lines.append(
            f"{NAME} ignores SCRIPT_NAME={script_name!r} in the environment: give each SockJS service its "
            "full prefix instead"
        )
    return lines


def http_config(cfg: Any) -> HttpConfig:
    """The HttpConfig of gunicorn's settings (``keepalive`` and the ``limit_request_*`` three)."""
    default = HttpConfig()
    line = cfg.limit_request_line
    max_url = default.max_url_size if line <= 0 else min(line, _MAX_REQUEST_LINE)
    fields = cfg.limit_request_fields
    max_headers = _MAX_HEADERS if fields <= 0 or fields > _MAX_HEADERS else fields
    field_size = cfg.limit_request_field_size
    max_field = None if field_size <= 0 else field_size
    # A head must be able to hold the longest URL and the longest line gunicorn would accept.
    max_head = max(default.max_head_size, max_url + (max_field or 0) + 4096)
    keepalive = cfg.keepalive if cfg.keepalive > 0 else default.keepalive_timeout
    return default.replace(
        keepalive_timeout=keepalive,
        max_url_size=max_url,
        max_headers=max_headers,
        max_field_size=max_field,
        max_head_size=max_head,
    )


def is_default(cfg: Any, name: str) -> bool:
    setting = cfg.settings.get(name)
    return setting is None or setting.get() is getattr(type(setting), "default", None)
