"""Sessions waiting to expire: one timer per disconnect_delay, and nothing held but the session.

A session whose client left waits disconnect_delay in its registry; at
thousands of opens a second, tens of thousands wait at once, and every
full pass of the cyclic GC walks all they hold. Each used to hold a libev
timer and its bound method (its expiry), and its handler's dead greenlet
and that greenlet's link list; now the sessions of one delay wait in one
``ExpiryQueue`` (one timer), and a returned handler leaves a shared dead
greenlet in its place.
"""

from __future__ import annotations

import gc
import sys
import time
import weakref

import gevent
import pytest

from sockjs_gevent import SockJS
from sockjs_gevent.connection import Connection, ConnectionInfo
from sockjs_gevent.server import shutdown
from sockjs_gevent.session import NORMAL_CLOSURE, Session, SessionRegistry, expiry_queue, handler_returned
from sockjs_gevent.testing import HandlerClient
from sockjs_gevent.transports.outlets import GreenletOutlet


def _reads_until_closed(conn):
    for _ in conn:
        pass


def make_session(registry, key, delay, handler=_reads_until_closed):
    info = ConnectionInfo("xhr-streaming", {"REMOTE_ADDR": "127.0.0.1", "PATH_INFO": "/x/y/xhr_streaming"})
    session = Session(info, delay, registry, key)
    registry.add(session)
    session.start(handler, Connection(session))
    return session


def leave(session):
    """A request attaches and ends (its client read and left): the session starts waiting out its delay."""
    outlet = GreenletOutlet()
    assert session.attach(outlet)
    session.detach(outlet)


def wait_until(predicate, timeout=5.0):
    with gevent.Timeout(timeout, AssertionError("condition not reached in time")):
        while not predicate():
            gevent.sleep(0.002)


def test_a_session_expires_disconnect_delay_after_its_request_ended():
    registry = SessionRegistry()
    session = make_session(registry, "a", 0.1)
    gevent.sleep(0)
    started = time.monotonic()
    leave(session)
    assert session._expires_at is not None
    gevent.sleep(0.06)
    assert registry.get("a") is session and not session.closed  # not yet
    wait_until(lambda: registry.get("a") is None)
    elapsed = time.monotonic() - started
    assert 0.095 <= elapsed < 0.5, elapsed
    assert session.closed and session.close_frame == 'c[1000,"Normal closure"]'
    assert session._expires_at is None


def test_a_poll_answered_at_once_rearms_the_expiry_as_an_attached_request_does():
    """``take_frame_unattached``: a polling request whose frame is ready takes it without an outlet."""
    registry = SessionRegistry()
    session = make_session(registry, "u", 0.1)
    leave(session)
    first = session._expires_at
    gevent.sleep(0.02)
    assert session.take_frame_unattached() == "o"
    assert session._expires_at is not None and session._expires_at > first  # from now, as attach+detach
    assert session.take_frame_unattached() is None  # nothing ready: nothing taken or re-armed
    outlet = GreenletOutlet()
    assert session.attach(outlet)
    session.send("x")
    assert session.take_frame_unattached() is None  # another request holds the session: it must attach
    assert session.take_frame() == 'a["x"]'
    session.detach(outlet)
    wait_until(lambda: registry.get("u") is None)


def test_a_new_request_rearms_the_expiry():
    registry = SessionRegistry()
    session = make_session(registry, "b", 0.15)
    leave(session)
    gevent.sleep(0.1)
    started = time.monotonic()
    leave(session)  # a poll came and went: disconnect_delay from now, not from the first
    gevent.sleep(0.1)
    assert registry.get("b") is session and not session.closed  # its first deadline has passed
    wait_until(lambda: registry.get("b") is None)
    assert time.monotonic() - started >= 0.145


def test_an_attached_request_cancels_the_expiry_for_as_long_as_it_lasts():
    registry = SessionRegistry()
    session = make_session(registry, "c", 0.05)
    leave(session)
    outlet = GreenletOutlet()
    assert session.attach(outlet)
    assert session._expires_at is None
    gevent.sleep(0.15)  # well past the deadline of the entry it left in the queue
    assert registry.get("c") is session and not session.closed
    started = time.monotonic()
    session.detach(outlet)
    wait_until(lambda: registry.get("c") is None)
    assert time.monotonic() - started >= 0.045


def test_many_sessions_wait_on_one_timer_and_expire_in_order():
    registry = SessionRegistry()
    delay = 0.123  # (a delay of its own: its own queue)
    queue = expiry_queue(delay)
    assert expiry_queue(delay) is queue and len(queue) == 0 and queue._timer is None
    sessions = [make_session(registry, f"m{i}", delay) for i in range(200)]
    expired = []
    for session in sessions:
        session.on_close(expired.append)
    for i, session in enumerate(sessions):
        leave(session)
        if i == 99:
            gevent.sleep(0.02)  # the second hundred's deadlines are later
    timer = queue._timer
    assert timer is not None and len(queue) == 200
    gc.collect()
    loop = gevent.get_hub().loop
    timers = [o for o in gc.get_objects() if type(o) is type(timer) and o.loop is loop and o.active]
    assert [t for t in timers if t is timer] == [timer]
    assert not any(getattr(t.callback, "__self__", None) in sessions for t in timers)  # no timer of their own
    wait_until(lambda: len(registry) == 0)
    assert expired == sessions  # first armed, first expired
    assert len(queue) == 0 and queue._timer is None  # nothing waits: no timer either


def test_rearming_moves_the_last_entry_on_and_stale_entries_are_dropped_when_due():
    registry = SessionRegistry()
    delay = 0.2
    queue = expiry_queue(delay)
    session = make_session(registry, "r", delay)
    for _ in range(1000):
        leave(session)  # polls in one loop turn, nothing queued behind it
    assert len(queue) == 1
    other = make_session(registry, "o", delay)
    for _ in range(100):
        leave(session)
        leave(other)  # interleaved: an entry per request, each dropped as it comes due
    assert len(queue) == 200  # (its first re-arm moved its own entry on: it was the last)
    wait_until(lambda: len(registry) == 0)
    assert len(queue) == 0 and queue._timer is None


def test_a_session_closed_early_still_waits_its_delay_then_is_let_go():
    registry = SessionRegistry()
    session = make_session(registry, "e", 0.05)
    leave(session)
    session.close(3000, "Go away")  # the close frame is repeated to any request until it expires
    assert registry.get("e") is session
    wait_until(lambda: registry.get("e") is None)
    gevent.sleep(0)
    gc.collect()
    # Neither the queue nor a timer keeps it: the only references left are this test's name and
    # getrefcount's argument. (Not a weak reference: a compiled build's Session takes none.)
    assert sys.getrefcount(session) == 2


def test_a_returned_handler_leaves_no_greenlet_behind():
    registry = SessionRegistry()
    session = make_session(registry, "g", 5.0, handler=lambda conn: None)
    handler = session.handler_greenlet
    assert isinstance(handler, gevent.Greenlet) and handler is not handler_returned()
    gone = weakref.ref(handler)
    handler.join(2)
    del handler
    gevent.sleep(0)  # (join's own link to it is let go once its links have run)
    gc.collect()
    assert gone() is None  # nothing of the dead greenlet is kept, its link list neither
    marker = session.handler_greenlet
    assert marker is handler_returned()  # shared: one per hub
    assert marker.dead and marker.ready() and not marker
    marker.join(0.1)  # (returns at once, as a dead greenlet's join)
    marker.kill()
    assert session.handler_done and session.closed and not session.refused
    assert session.close_frame == 'c[1000,"Normal closure"]'
    registry.remove(session)


def test_refused_is_a_flag_not_the_missing_greenlet():
    registry = SessionRegistry()
    info = ConnectionInfo("xhr-polling", {"REMOTE_ADDR": "127.0.0.1"})
    refused = Session(info, 5.0, registry, "x")
    refused.refuse(3003, "Forbidden")
    assert refused.refused and refused.handler_greenlet is None
    opened = make_session(registry, "y", 5.0, handler=lambda conn: None)
    gevent.sleep(0.01)
    assert opened.closed and not opened.refused and opened.handler_greenlet is handler_returned()


def test_a_handler_client_of_a_returned_handler_closes_cleanly():
    with HandlerClient(SockJS(lambda conn: conn.send("bye"))) as client:
        assert client.recv() == "bye"
        assert client.wait_closed() == NORMAL_CLOSURE
        assert not client.refused
        assert client.session.handler_greenlet is handler_returned()


class _Server:
    """What ``shutdown`` needs of a server."""

    def __init__(self):
        self.stopped = False

    def stop_accepting(self):
        pass

    def stop(self, timeout=None):
        self.stopped = True


def test_shutdown_joins_the_handlers_still_running_and_skips_returned_ones():
    finished = []

    def slow(conn):
        for _ in conn:
            pass
        gevent.sleep(0.1)  # still running well after its session closed
        finished.append(conn)

    returned = HandlerClient(SockJS(lambda conn: None))
    running = HandlerClient(SockJS(slow))
    gevent.sleep(0.01)
    assert returned.session.handler_greenlet is handler_returned()
    handler = running.session.handler_greenlet
    assert handler is not None and not handler.dead
    server = _Server()
    shutdown(server, grace=2.0)
    assert handler.dead and len(finished) == 1  # joined, not killed: it ran to its end
    assert running.session.handler_greenlet is handler_returned()
    assert server.stopped


@pytest.mark.parametrize("delay", [0.05])
def test_expiry_queues_are_per_hub_and_made_lazily(delay):
    hub = gevent.get_hub()
    queues = getattr(hub, "_sockjs_expiry_queues", {})
    queues.pop(0.0771, None)
    assert 0.0771 not in getattr(hub, "_sockjs_expiry_queues", {})
    queue = expiry_queue(0.0771)
    assert hub._sockjs_expiry_queues[0.0771] is queue and queue._loop is hub.loop
    assert expiry_queue(delay) is not queue


def test_the_outbox_is_made_as_needed_and_an_overflow_still_gives_back_its_budget():
    from sockjs_gevent.budget import BUDGET

    info = ConnectionInfo("websocket", {"REMOTE_ADDR": "127.0.0.1"})
    session = Session(info, 5.0, max_queued_bytes=10)
    session.start(_reads_until_closed, Connection(session))
    assert session._outbox is None and session.take_messages() == []
    held = BUDGET.held
    assert session.send("abc") and session._outbox == ['"abc"']
    assert session.take_frames() == ["o", 'a["abc"]'] and session._outbox is None
    assert BUDGET.held == held
    assert session.send("abcd")
    assert not session.send("abcde")  # 6 + 7 characters quoted: over max_queued_bytes, a slow consumer
    assert session.closed and BUDGET.held == held and session._queued == 0 and session._outbox is None


def test_the_delay_counts_from_the_time_the_request_ended_not_from_the_loop_turn():
    registry = SessionRegistry()
    session = make_session(registry, "t", 0.1)
    gevent.sleep(0)
    time.sleep(0.15)  # a long loop turn (the loop's cached time is 0.15 s old now)
    started = time.monotonic()
    leave(session)
    gevent.sleep(0.05)
    assert registry.get("t") is session and not session.closed
    wait_until(lambda: registry.get("t") is None)
    assert time.monotonic() - started >= 0.095
