"""argparse types of the command lines: a number in its range, or a one-line error saying what was expected."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def whole_number(expected: str, minimum: int, out_of_range: str, maximum: int | None = None) -> Callable[[str], int]:
    """A type parsing an int from ``minimum`` to ``maximum``; errors say ``expected ...`` or ``out_of_range``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{out_of_range}, got {value}")
        return value

    return parse


port_number = whole_number("a port number", 0, "a port is 0 to 65535 (0 picks a free one)", 65535)
positive_int = whole_number("a whole number", 1, "must be at least 1")
byte_count = whole_number("a number of bytes", 0, "must be 0 or more bytes")
buffered_bytes = whole_number("a number of bytes", 1024 * 1024, "must be at least 1 MiB (1048576)")


def positive_seconds(text: str) -> float:
    """A type parsing a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:  # (also refuses nan)
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value
