"""The access log, in the combined log format (off unless asked for)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import IO, Any, Protocol, Union

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class RequestLogger(Protocol):
    """What the server tells of each answered request: ``AccessLog``, or one of a host's (gunicorn's access log)."""

    def log(self, environ: Mapping[str, Any], status: int, size: int) -> None: ...


AccessLogTarget = Union[None, logging.Logger, IO[str], str, RequestLogger]


def _quote(value: str | None) -> str:
    if not value:
        return "-"
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")


def combined_line(environ: Mapping[str, Any], status: int, size: int, now: float | None = None) -> str:
    """``host - - [day/Mon/year:HH:MM:SS +zone] "request line" status bytes "referer" "user-agent"``."""
    t = time.localtime(now)
    offset = t.tm_gmtoff // 60
    sign = "+" if offset >= 0 else "-"
    stamp = "%02d/%s/%04d:%02d:%02d:%02d %s%02d%02d" % (
        t.tm_mday,
        _MONTHS[t.tm_mon - 1],
        t.tm_year,
        t.tm_hour,
        t.tm_min,
        t.tm_sec,
        sign,
        abs(offset) // 60,
        abs(offset) % 60,
    )
    request_line = "%s %s %s" % (
        environ.get("REQUEST_METHOD", "-"),
        environ.get("RAW_URI", "-"),
        environ.get("SERVER_PROTOCOL", "-"),
    )
    return '%s - - [%s] "%s" %d %s "%s" "%s"' % (
        environ.get("REMOTE_ADDR") or "-",
        stamp,
        _quote(request_line),
        status,
        size if size else "-",
        _quote(environ.get("HTTP_REFERER")),
        _quote(environ.get("HTTP_USER_AGENT")),
    )


class AccessLog:
    """Writes one combined-format line per answered request to a logger or a file."""

    def __init__(self, target: logging.Logger | IO[str]) -> None:
        self._logger = target if isinstance(target, logging.Logger) else None
        self._file = None if self._logger is not None else target

    @classmethod
    def of(cls, target: AccessLogTarget) -> RequestLogger | None:
        """None for None; a logger or an open text file as they are; a path is opened for appending ("-": stderr).

        Anything else with a ``log(environ, status, size)`` method is used as it is.
        """
        if target is None or target is False:
            return None
        if (
            not isinstance(target, (str, logging.Logger, logging.LoggerAdapter))
            and not hasattr(target, "write")
            and callable(getattr(target, "log", None))
        ):
            return target  # type: ignore[return-value]  # (a RequestLogger of the caller's)
        if isinstance(target, str):
            if target == "-":
                import sys

                return cls(sys.stderr)
            return cls(open(target, "a", buffering=1, encoding="utf-8"))
        if isinstance(target, logging.Logger) or hasattr(target, "write"):
            return cls(target)  # type: ignore[arg-type]  # (a text file: it has write)
        raise TypeError(
            f"access_log must be a logging.Logger, a text file, a path, an object with "
            f"log(environ, status, size), or None; got {target!r}"
        )

    def log(self, environ: Mapping[str, Any], status: int, size: int) -> None:
        line = combined_line(environ, status, size)
        if self._logger is not None:
            self._logger.info("%s", line)
        else:
            self._file.write(line + "\n")  # type: ignore[union-attr]
            if hasattr(self._file, "flush"):
                self._file.flush()  # type: ignore[union-attr]
