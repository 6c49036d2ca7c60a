"""The access log, in the combined log format (off unless asked for)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import IO, Any, Literal, Protocol, runtime_checkable

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class RequestLogger(Protocol):
    """What the server tells of each answered request: ``AccessLog``, or one of a host's (gunicorn's access log)."""

    def log(self, environ: Mapping[str, Any], status: int, size: int) -> None: ...


@runtime_checkable
class _TextFile(Protocol):
    """A text file, as far as the access log uses one (``flush`` too, when it has one)."""

    def write(self, text: str, /) -> object: ...


AccessLogTarget = None | logging.Logger | IO[str] | str | RequestLogger


def _quote(value: str | None) -> str:
    if not value:
        return "-"
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")


def combined_line(environ: Mapping[str, Any], status: int, size: int, now: float | None = None) -> str:
    """``host - - [day/Mon/year:HH:MM:SS +zone] "request line" status bytes "referer" "user-agent"``."""
    t = time.localtime(now)
    offset = t.tm_gmtoff // 60
    sign = "+" if offset >= 0 else "-"
    stamp = (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year:04d}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        f" {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    )
    request_line = (
        f"{environ.get('REQUEST_METHOD', '-')} {environ.get('RAW_URI', '-')} {environ.get('SERVER_PROTOCOL', '-')}"
    )
    return (
        f'{environ.get("REMOTE_ADDR") or "-"} - - [{stamp}] "{_quote(request_line)}" {status:d} {size if size else "-"}'
        f' "{_quote(environ.get("HTTP_REFERER"))}" "{_quote(environ.get("HTTP_USER_AGENT"))}"'
    )


class AccessLog:
    """Writes one combined-format line per answered request to a logger or a file."""

    def __init__(self, target: logging.Logger | _TextFile) -> None:
        self._target = target

    @classmethod
    def of(cls, target: AccessLogTarget | Literal[False]) -> RequestLogger | None:
        """None for None; a logger or an open text file as they are; a path is opened for appending ("-": stderr).

        False means None too. Anything else with a ``log(environ, status, size)`` method is used as it is.
        """
        if target is None or target is False:
            return None
        if isinstance(target, str):
            if target == "-":
                import sys

                return cls(sys.stderr)
            return cls(open(target, "a", buffering=1, encoding="utf-8"))
        if isinstance(target, logging.Logger):
            return cls(target)
        if isinstance(target, _TextFile):  # (anything with a write method)
            return cls(target)
        if not isinstance(target, logging.LoggerAdapter) and callable(getattr(target, "log", None)):
            return target  # a RequestLogger of the caller's
        raise TypeError(
            f"access_log must be a logging.Logger, a text file, a path, an object with "
            f"log(environ, status, size), or None; got {target!r}"
        )

    def log(self, environ: Mapping[str, Any], status: int, size: int) -> None:
        line = combined_line(environ, status, size)
        target = self._target
        if isinstance(target, logging.Logger):
            target.info("%s", line)
        else:
            target.write(line + "\n")
            if hasattr(target, "flush"):
                target.flush()
