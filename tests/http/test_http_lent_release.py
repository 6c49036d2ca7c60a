"""What an xhr-streaming open leaves behind once its client hangs up: nothing but the session.

An open whose client reads ``o`` and leaves is the cheapest way to make
a server hold memory (thousands a second); each left its stream's link,
socket wrapper and writer on the heartbeat wheel for up to
``heartbeat_delay``, and cost a timer and a greenlet link in the reaper
(the link's callback object stays on the greenlet while the session
keeps it), all of it walked by every full pass of the cyclic GC. Now
the link leaves the wheel as it ends, and a handler that returns when its
session closes costs the reaper no timer and no link. The hang-up itself
still ends the session at once, and the connection with a FIN.
"""

from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace

import gevent
from gevent.event import Event

from sockjs_gevent.reaper import Reaper
from sockjs_gevent.session import INTERRUPTED
from sockjs_gevent.stats import Stats
from sockjs_gevent.transports import heartbeats
from sockjs_gevent.transports.heartbeats import HeartbeatWheel
from sockjs_gevent.transports.lentstream import StreamLink
from tests.http.test_http_lending import PRELUDE, open_stream, service, wait_until


def links_alive() -> list[StreamLink]:
    # (type(), not isinstance(): gc.get_objects() may hold cyclic garbage not yet collected, such as
    # a dead weakref.proxy, whose __class__ raises ReferenceError; an earlier Flask test leaves one)
    return [obj for obj in gc.get_objects() if type(obj) is StreamLink]


def new_links(before: list[StreamLink]) -> list[StreamLink]:
    """The links alive now that were not in ``before`` (an earlier test's, in this process, may go meanwhile)."""
    return [link for link in links_alive() if not any(link is old for old in before)]


def test_a_stream_whose_client_hangs_up_leaves_no_link_behind(start_server):
    app = service(heartbeat_delay=60.0)
    server = start_server(app)
    before = links_alive()
    wire = open_stream(server, "r1")
    assert wire.read_head().status == 200 and wire.read_chunk() == PRELUDE and wire.read_chunk() == b"o\n"
    session = app.sessions.get("r1")
    assert len(new_links(before)) == 1
    wire.close()
    wait_until(lambda: session.closed)
    assert (session.close_code, session.close_reason) == INTERRUPTED
    gevent.sleep(0.01)
    assert new_links(before) == []  # not held by the wheel until its slot comes (up to 60 s here)
    assert app.reaper.lingering == {} and len(app.reaper) == 0  # the handler returned: no timer, no link
    assert app.sessions.get("r1") is session  # the session itself waits out disconnect_delay


def test_the_server_ends_the_connection_of_a_client_that_hung_up(start_server):
    app = service()
    server = start_server(app)
    wire = open_stream(server, "r2")
    assert wire.read_head().status == 200 and wire.read_chunk() == PRELUDE and wire.read_chunk() == b"o\n"
    session = app.sessions.get("r2")
    wire.sock.shutdown(2 - 1)  # (SHUT_WR: the client says it is done, and reads on)
    wait_until(lambda: session.closed)
    wire.sock.settimeout(5)
    assert wire.sock.recv(100) == b""  # a FIN, not a reset
    wire.close()


class Member:
    def __init__(self, last_write: float) -> None:
        self.last_write = last_write
        self.done = False
        self.beats = 0

    def heartbeat(self) -> None:
        self.beats += 1


def test_a_removed_member_is_let_go_at_once() -> None:
    wheel = HeartbeatWheel(25.0)
    now = wheel._loop.now()
    kept, removed = Member(now), Member(now)
    wheel.add(kept)
    wheel.add(removed)
    gone = weakref.ref(removed)
    wheel.remove(removed)
    wheel.remove(removed)  # (twice: nothing)
    del removed
    assert gone() is None
    wheel.remove(kept)
    assert wheel._slots == {}
    wheel._turn()  # the last member gone: the timer stops
    assert wheel._timer is None


def test_a_member_whose_heartbeat_ends_it_is_not_placed_again() -> None:
    wheel = HeartbeatWheel(8.0)
    member = Member(wheel._loop.now() - 100.0)  # long silent: due at the first turn

    def heartbeat() -> None:
        member.beats += 1
        member.done = True  # its write failed: the link ends and lets go
        wheel.remove(member)

    member.heartbeat = heartbeat  # type: ignore[method-assign]
    wheel.add(member)
    wheel._next = min(wheel._slots)  # (turn now, whatever the clock says)
    wheel._turn()
    assert member.beats == 1 and wheel._slots == {} and wheel._timer is None
    assert heartbeats.wheel(8.0) is heartbeats.wheel(8.0)


class Handler(gevent.Greenlet):
    """A handler's greenlet that counts the links made to it."""

    links = 0

    def rawlink(self, callback) -> None:
        self.links += 1
        super().rawlink(callback)


def test_a_handler_that_returns_as_its_session_closes_costs_the_reaper_no_timer_nor_link() -> None:
    reaper = Reaper(60.0, "/svc", Stats())
    closed = Event()
    handler = Handler.spawn(closed.wait)
    gevent.sleep(0)  # it runs, and waits for the close
    session = SimpleNamespace(handler_greenlet=handler, handler_done=False)
    closed.set()  # the close wakes it (it runs on the loop's next callbacks)...
    reaper.watch(session)  # ... and the session tells the reaper before that
    assert len(reaper) == 1  # counted until the reaper looks again
    gevent.sleep(0)
    gevent.sleep(0)
    assert handler.dead and len(reaper) == 0 and reaper.lingering == {}
    assert handler.links == 0


def test_a_handler_still_running_at_the_look_is_linked_and_uncounted_once_it_returns() -> None:
    reaper = Reaper(60.0, "/svc", Stats())
    release = Event()
    handler = Handler.spawn(release.wait)
    gevent.sleep(0)
    reaper.watch(SimpleNamespace(handler_greenlet=handler, handler_done=False))
    gevent.sleep(0.01)
    assert handler.links == 1 and len(reaper) == 1 and handler in reaper.lingering
    release.set()
    handler.join(1)
    gevent.sleep(0)
    assert len(reaper) == 0 and reaper.lingering == {}
