"""A websocket whose client leaves: its link leaves the heartbeat wheel as it ends.

The wheel held an ended link until its slot came round (up to
heartbeat_delay, 25 s by default): one more object per closed websocket
for every full pass of the cyclic GC.
"""

from __future__ import annotations

import base64
import gc
import os

from sockjs_gevent import SockJS
from sockjs_gevent.transports.websocket import WebSocketLink
from tests.http.httpwire import Wire
from tests.http.test_http_lending import wait_until


def links_alive() -> list[WebSocketLink]:
    return [obj for obj in gc.get_objects() if type(obj) is WebSocketLink]  # (type(): a dead weakref.proxy raises)


def new_links(before: list[WebSocketLink]) -> list[WebSocketLink]:
    """The links alive now that were not in ``before`` (an earlier test's, in this process, may go meanwhile)."""
    return [link for link in links_alive() if not any(link is old for old in before)]


def echo(conn):
    for message in conn:
        conn.send(message)


def open_websocket(server) -> Wire:
    wire = Wire(server)
    key = base64.b64encode(os.urandom(16))
    wire.send(
        b"GET /echo/0/s/websocket HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert wire.read_head().status == 101
    assert wire.read_exactly(3) == b"\x81\x01o"
    return wire


def test_an_ended_websocket_link_is_not_held_by_the_heartbeat_wheel(start_server):
    app = SockJS(echo, prefix="/echo", heartbeat_delay=60.0)
    server = start_server(app)
    gc.collect()
    before = links_alive()
    wires = [open_websocket(server) for _ in range(3)]
    wait_until(lambda: len(app.live) == 3)
    links = new_links(before)
    assert len(links) == 3
    wheels = {id(link.wheel): link.wheel for link in links if link.wheel is not None}
    assert len(wheels) == 1
    (wheel,) = wheels.values()
    held = [m for members in wheel._slots.values() for m in members if isinstance(m, WebSocketLink)]
    assert len(held) >= 3
    del links, held
    for wire in wires:
        wire.close()
    wait_until(lambda: not app.live)
    wait_until(lambda: not any(isinstance(m, WebSocketLink) and m.done for s in wheel._slots.values() for m in s))
    gc.collect()
    assert new_links(before) == []  # not held until its slot comes (up to 60 s here)
