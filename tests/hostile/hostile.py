"""What the hostile-input tests share: server memory, stats, raw websocket floods."""

from __future__ import annotations

import json
import socket
import urllib.request
from typing import Any

MIB = 1024 * 1024


def rss_mib(server: Any) -> float:
    """The server process's resident memory, from /proc/PID/status."""
    with open(f"/proc/{server.process.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS line")


def stats(server: Any, prefix: str) -> dict[str, Any]:
    with urllib.request.urlopen(server.url("/stats"), timeout=5) as response:
        return json.load(response)[prefix]


def send_until_blocked(sock: socket.socket, frame: bytes, limit_bytes: int, stall: float = 1.0) -> int:
    """Send ``frame`` repeatedly until ``limit_bytes`` went out or the server stopped reading.

    "Stopped reading" is a send that made no progress for ``stall`` seconds
    (TCP pushing back). A busy machine can only make this stop early, so
    tests assert on what the server took (its stats, its memory), never
    on timing.
    """
    sent = 0
    sock.settimeout(stall)
    view = memoryview(frame)
    try:
        while sent < limit_bytes:
            offset = 0
            while offset < len(view):
                offset += sock.send(view[offset:])
            sent += len(view)
    except TimeoutError:
        pass
    return sent
