"""sockjs_gevent.budget: the process's count of client data, its limit, and who waits for room."""

from __future__ import annotations

import pytest

from sockjs_gevent import budget as budget_module
from sockjs_gevent.budget import BUDGET, Budget
from sockjs_gevent.inbox import Inbox, cost


def test_held_bytes_follow_takes_and_releases_and_waiters_resume_under_three_quarters():
    budget = Budget(4 * 1024 * 1024)
    woken = []
    budget.take(5 * 1024 * 1024)
    assert budget.over() and not budget.fits(1)
    budget.on_room(lambda: woken.append(1))
    budget.release(1024 * 1024)  # 4 MiB: no longer over, but not under 3 MiB either
    assert not budget.over() and woken == []
    budget.release(1024 * 1024)
    assert woken == [1] and budget.snapshot() == {
        "held": 3 * 1024 * 1024,
        "limit": 4 * 1024 * 1024,
        "paused_readers": 0,
    }
    budget.on_room(lambda: woken.append(2))  # room now: at once
    assert woken == [1, 2]


@pytest.mark.parametrize("limit", [0, 1024, -1, 1.5, True, "1000000000"])
def test_a_limit_that_cannot_work_is_refused_with_what_to_write(limit):
    with pytest.raises(ValueError, match="at least 1 MiB"):
        Budget().configure(limit)


def test_every_inbox_counts_in_the_process_budget():
    before = BUDGET.held
    inbox = Inbox(1024 * 1024)
    inbox.put_many(["a" * 100, "b" * 50])
    assert BUDGET.held - before == cost(["a" * 100, "b" * 50])
    assert inbox.get() == "a" * 100
    assert BUDGET.held - before == cost(["b" * 50])
    inbox.drop()
    assert BUDGET.held == before


def test_the_environment_sets_the_default_and_a_bad_value_says_so(monkeypatch):
    monkeypatch.setenv(budget_module.LIMIT_ENV, "2097152")
    assert budget_module._limit_from_environment() == 2097152
    monkeypatch.setenv(budget_module.LIMIT_ENV, "lots")
    with pytest.raises(ValueError, match="number of bytes"):
        budget_module._limit_from_environment()


def test_flask_config_sets_the_process_budget():
    flask = pytest.importorskip("flask")
    import flask_sockjs

    app = flask.Flask(__name__)
    app.config["SOCKJS_MAX_BUFFERED_BYTES"] = 3 * 1024 * 1024
    previous = BUDGET.limit
    try:
        flask_sockjs.SockJS(app)
        assert BUDGET.limit == 3 * 1024 * 1024
    finally:
        BUDGET.configure(previous)
