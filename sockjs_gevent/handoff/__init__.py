"""Several workers on one port: each request of a session reaches the worker that holds it.

See ``exchange.HandOff`` (a worker's slot and the passing of connections),
``owner`` (which slot holds a session), ``slots`` (numbered slots claimed
with file locks) and ``wire`` (the message that carries a connection).
"""

from .exchange import SLOTS_ENV, HandOff, HandOffStats, from_environment
from .owner import SENDING_TRANSPORTS, session_route, slot_of
from .slots import DIRECTORY_ENV, SlotError, Slots, default_directory

__all__ = [
    "DIRECTORY_ENV",
    "SENDING_TRANSPORTS",
    "SLOTS_ENV",
    "HandOff",
    "HandOffStats",
    "SlotError",
    "Slots",
    "default_directory",
    "from_environment",
    "session_route",
    "slot_of",
]
