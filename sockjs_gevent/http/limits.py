"""The HTTP server's limits and timeouts as a connection reads them, in fixed fields.

A connection reads a limit for every header it parses and a timeout for
every wait. ``HttpConfig`` is the user's object: a frozen dataclass that
checks every value given to it, interpreted in every build, its fields
read through its instance dict. ``Limits`` holds the same values in slots
of a class of its own, made once per config (``limits_of`` keeps the last
one), which the compiled build reads as struct fields.
"""

from __future__ import annotations

from .config import HttpConfig


class Limits:
    """The values of one ``HttpConfig`` (see there for each); ``int`` timeouts and rates are made ``float``."""

    __slots__ = (
        "config",
        "header_timeout",
        "keepalive_timeout",
        "body_timeout",
        "body_min_rate",
        "write_timeout",
        "linger_timeout",
        "max_head_size",
        "max_url_size",
        "max_headers",
        "max_field_size",
        "max_body_size",
        "max_drain_size",
        "read_size",
    )

    def __init__(self, config: HttpConfig) -> None:
        #: The config these values are copied from.
        self.config = config
        self.header_timeout = _float_or_none(config.header_timeout)
        self.keepalive_timeout = _float_or_none(config.keepalive_timeout)
        self.body_timeout = _float_or_none(config.body_timeout)
        self.body_min_rate = _float_or_none(config.body_min_rate)
        self.write_timeout = _float_or_none(config.write_timeout)
        self.linger_timeout = float(config.linger_timeout)
        self.max_head_size: int = config.max_head_size
        self.max_url_size: int = config.max_url_size
        self.max_headers: int = config.max_headers
        self.max_field_size: int | None = config.max_field_size
        self.max_body_size: int | None = config.max_body_size
        self.max_drain_size: int = config.max_drain_size
        self.read_size: int = config.read_size


def _float_or_none(value: float | None) -> float | None:
    """A timeout or a rate as a float (an int given in HttpConfig is one too); None stays None."""
    return None if value is None else float(value)


_last: Limits | None = None


def limits_of(config: HttpConfig) -> Limits:
    """The ``Limits`` of ``config``: made once, while connections keep coming with the same config."""
    global _last
    last = _last
    if last is not None and last.config is config:
        return last
    limits = _last = Limits(config)
    return limits
