"""Session state in-process: ordering, batching, close, expiry (gevent, no network)."""

import pytest

from sockjs_gevent.connection import Connection, ConnectionInfo
from sockjs_gevent.session import Session, SessionRegistry
from sockjs_gevent.transports.outlets import GreenletOutlet


def make_session(registry=None, delay=5.0, handler=None):
    info = ConnectionInfo(
        "xhr-polling",
        {"REMOTE_ADDR": "127.0.0.1", "PATH_INFO": "/x/y/xhr", "HTTP_USER_AGENT": "t", "HTTP_AUTHORIZATION": "secret"},
    )
    session = Session(info, delay, registry, "sid" if registry is not None else None)
    if registry is not None:
        registry.add(session)
    session.start(handler or _reads_until_closed, Connection(session))  # open, as SockJS.open_session does
    return session


def _reads_until_closed(conn):
    for _ in conn:
        pass


def test_open_frame_first_then_batched_messages():
    session = make_session()
    session.send("a")
    session.send("b")
    assert session.take_frames() == ["o", 'a["a","b"]']
    assert session.take_frames() == []


def test_polling_takes_one_frame_at_a_time():
    session = make_session()
    session.send("a")
    assert session.take_frame() == "o"
    assert session.take_frame() == 'a["a"]'
    assert session.take_frame() is None


def test_close_delivers_pending_messages_then_the_close_frame_forever():
    session = make_session()
    session.take_frame()
    session.send("last")
    session.close(3000, "Go away!")
    assert session.take_frames() == ['a["last"]', 'c[3000,"Go away!"]']
    assert session.take_frames() == ['c[3000,"Go away!"]']
    assert session.send("dropped") is False


def test_send_wakes_the_attached_outlet():
    session = make_session()
    outlet = GreenletOutlet()
    assert session.attach(outlet)
    assert not session.attach(GreenletOutlet())  # only one at a time
    session.send("x")
    assert outlet.wakeup.is_set()


def test_recv_returns_queued_messages_then_none_after_close():
    session = make_session()
    session.deliver(["1", "2"])
    session.close(1000, "bye")
    session.deliver(["ignored"])
    assert [session.recv(), session.recv(), session.recv(), session.recv()] == ["1", "2", None, None]


def test_recv_timeout():
    session = make_session()
    with pytest.raises(TimeoutError):
        session.recv(timeout=0.01)


def test_unattached_session_expires_and_leaves_the_registry():
    registry = SessionRegistry()
    session = make_session(registry, delay=0.05)
    outlet = GreenletOutlet()
    session.attach(outlet)
    session.detach(outlet)
    assert session.recv(timeout=2) is None  # the handler sees the close
    assert registry.get("sid") is None


def test_attaching_cancels_expiry():
    registry = SessionRegistry()
    session = make_session(registry, delay=0.05)
    first = GreenletOutlet()
    session.attach(first)
    session.detach(first)
    session.attach(GreenletOutlet())
    with pytest.raises(TimeoutError):
        session.recv(timeout=0.2)
    assert registry.get("sid") is session


def test_handler_exception_closes_with_1011_and_logs(caplog):
    def broken(conn):
        raise ValueError("boom")

    session = make_session(handler=broken)
    session.handler_greenlet.join(timeout=2)
    assert session.close_frame == 'c[1011,"Internal error"]'
    assert "boom" in caplog.text


def test_handler_return_closes_normally():
    session = make_session(handler=lambda conn: None)
    session.handler_greenlet.join(timeout=2)
    assert session.close_frame == 'c[1000,"Normal closure"]'


def test_connection_exposes_only_safe_headers():
    conn = Connection(make_session())
    assert conn.headers == {"user-agent": "t"}
    assert conn.remote_addr == "127.0.0.1"
    assert conn.transport == "xhr-polling"


@pytest.mark.parametrize("code", [999, 1001, 2999, 5000, True])
def test_close_rejects_reserved_codes(code):
    conn = Connection(make_session())
    with pytest.raises(ValueError):
        conn.close(code, "x")


def test_close_rejects_long_reasons_and_send_rejects_bytes():
    conn = Connection(make_session())
    with pytest.raises(ValueError):
        conn.close(3000, "x" * 124)
    with pytest.raises(TypeError):
        conn.send(b"bytes")


def test_state_moves_forward_connecting_open_closing_closed():
    from sockjs_gevent.session import State

    info = ConnectionInfo("websocket", {})
    session = Session(info, 5.0)
    assert session.state is State.CONNECTING and not session.closed
    session.start(_reads_until_closed, Connection(session))
    assert session.state is State.OPEN
    assert session.take_frame() == "o"
    session.close(3000, "bye")
    assert session.state is State.CLOSING and session.closed and not session.refused
    session.forget()
    assert session.state is State.CLOSED


def test_a_refused_session_goes_straight_to_closing_and_never_says_o():
    from sockjs_gevent.session import State

    session = Session(ConnectionInfo("websocket", {}), 5.0)
    session.refuse(3003, "Forbidden")
    assert session.state is State.CLOSING and session.refused
    assert session.take_frames() == ['c[3003,"Forbidden"]']


def test_state_changes_are_logged_at_debug(caplog):
    with caplog.at_level("DEBUG", logger="sockjs_gevent.session"):
        session = make_session()
        session.close(3000, "x")
    assert "session CONNECTING -> OPEN" in caplog.text and "session OPEN -> CLOSING" in caplog.text
