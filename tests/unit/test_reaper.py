"""sockjs_gevent.reaper: handlers still running after their session closed."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import gevent
from gevent.event import Event

from sockjs_gevent.reaper import Reaper, blocked_at
from sockjs_gevent.stats import Stats


def stuck(conn: object) -> None:
    Event().wait()  # the line the log must name


def run_handler(handler, conn) -> None:
    handler(conn)  # (as Session._run_handler: the handler is the greenlet's first argument)


def closed_session(function, done: bool = False) -> SimpleNamespace:
    return SimpleNamespace(handler_greenlet=gevent.spawn(run_handler, function, None), handler_done=done)


def test_a_handler_past_the_timeout_is_stopped_logged_with_its_line_and_counted(caplog):
    stats = Stats()
    reaper = Reaper(0.05, "/svc", stats)
    cleaned = []

    def stuck_then_clean(conn: object) -> None:
        try:
            stuck(conn)
        finally:
            cleaned.append(True)

    session = closed_session(stuck_then_clean)
    gevent.sleep(0)  # it runs, and blocks
    with caplog.at_level(logging.WARNING, logger="sockjs_gevent"):
        reaper.watch(session)
        assert len(reaper) == 1
        session.handler_greenlet.join(2)
    assert session.handler_greenlet.dead and cleaned == [True]  # stopped with GreenletExit: finally ran
    assert stats.problems["handler_killed"] == 1 and len(reaper) == 0
    (record,) = caplog.records
    assert "/svc" in record.getMessage() and "stuck_then_clean" in record.getMessage()
    assert "test_reaper.py" in record.getMessage() and "in stuck" in record.getMessage()


def test_the_same_handler_and_line_are_logged_once(caplog):
    stats = Stats()
    reaper = Reaper(0.02, "/svc", stats)
    sessions = [closed_session(stuck) for _ in range(5)]
    gevent.sleep(0)
    with caplog.at_level(logging.WARNING, logger="sockjs_gevent"):
        for session in sessions:
            reaper.watch(session)
        gevent.joinall([s.handler_greenlet for s in sessions], timeout=2)
    assert stats.problems["handler_killed"] == 5
    assert len(caplog.records) == 1


def test_a_handler_that_returns_in_time_is_left_alone():
    stats = Stats()
    reaper = Reaper(0.2, "/svc", stats)
    release = Event()
    session = closed_session(lambda conn: release.wait())
    gevent.sleep(0)
    reaper.watch(session)
    release.set()
    session.handler_greenlet.join(1)
    gevent.sleep(0.3)
    assert stats.problems["handler_killed"] == 0 and len(reaper) == 0


def test_nothing_is_watched_for_a_handler_that_closed_its_own_session_by_returning():
    reaper = Reaper(0.01, "/svc", Stats())
    reaper.watch(closed_session(stuck, done=True))
    assert len(reaper) == 0


def test_a_zero_timeout_counts_but_never_stops():
    stats = Stats()
    reaper = Reaper(0, "/svc", stats)
    session = closed_session(stuck)
    gevent.sleep(0)
    reaper.watch(session)
    gevent.sleep(0.05)
    assert not session.handler_greenlet.dead and len(reaper) == 1
    session.handler_greenlet.kill()
    gevent.sleep(0)  # (the greenlet's links run from the event loop)
    assert len(reaper) == 0


def test_blocked_at_names_the_innermost_frame_outside_gevent_and_the_library():
    greenlet = gevent.spawn(stuck, None)
    gevent.sleep(0)
    assert blocked_at(greenlet).endswith("in stuck") and "test_reaper.py" in blocked_at(greenlet)
    greenlet.kill()
