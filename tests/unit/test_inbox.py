"""The session inbox: order, close, timeouts, waiting readers."""

import gevent
import pytest

from sockjs_gevent.inbox import Inbox


def test_messages_come_out_in_order_then_none_after_close():
    inbox = Inbox()
    inbox.put_many(["a", "b"])
    inbox.put_many(["c"])
    inbox.close()
    assert [inbox.get(), inbox.get(), inbox.get(), inbox.get(), inbox.get()] == ["a", "b", "c", None, None]


def test_a_waiting_reader_wakes_for_a_message_and_for_the_close():
    inbox = Inbox()
    readers = [gevent.spawn(inbox.get), gevent.spawn(inbox.get)]
    gevent.idle()  # both are waiting now
    inbox.put_many(["only one"])
    gevent.idle()
    inbox.close()
    gevent.joinall(readers)
    assert {reader.value for reader in readers} == {"only one", None}


def test_timeout_raises_and_leaves_the_inbox_usable():
    inbox = Inbox()
    with pytest.raises(TimeoutError):
        inbox.get(timeout=0.01)
    inbox.put_many(["later"])
    assert inbox.get(timeout=0.01) == "later"
    assert inbox.empty()


def test_a_message_arriving_at_the_deadline_is_not_lost():
    inbox = Inbox()
    reader = gevent.spawn(inbox.get, 0.05)
    gevent.idle()
    inbox.put_many(["just in time"])
    assert reader.get() == "just in time"
