"""docs/protocol.md sections 2 and 5: session life cycle, close frames, heartbeats, expiry."""

import time

import pytest

from testkit.rawhttp import Raw, request
from testkit.serverproc import poll_until
from testkit.sockjshttp import new_sid, open_session, poll, send, session_path
from testkit.sockjsstream import Receiver

GO_AWAY = 'c[3000,"Go away!"]'


@pytest.mark.parametrize("transport", ["xhr", "jsonp"])
def test_closed_session_repeats_close_frame_to_later_polls(server, transport):
    sid = new_sid()
    assert poll(server, "/close", sid, transport)[1] == "o"
    for _ in range(3):
        assert poll(server, "/close", sid, transport)[1] == GO_AWAY


@pytest.mark.parametrize("transport", ["xhr_streaming", "eventsource", "htmlfile"])
def test_streaming_request_gets_close_frame_and_ends_then_close_repeats(server, transport):
    sid = new_sid()
    with Receiver(server, "/close", sid, transport) as rx:
        assert rx.frame() == "o"
        assert rx.frame() == GO_AWAY
        assert rx.ended()
    for again in ("xhr", transport):
        if again == "xhr":
            assert poll(server, "/close", sid)[1] == GO_AWAY
        else:
            with Receiver(server, "/close", sid, again) as rx:
                assert rx.frame() == GO_AWAY
                assert rx.ended()


def test_send_to_closed_session_does_not_reopen_it(server):
    sid = new_sid()
    poll(server, "/close", sid)
    assert poll(server, "/close", sid)[1] == GO_AWAY
    request(server, "POST", session_path("/close", sid, "xhr_send"), b'["x"]')
    assert poll(server, "/close", sid)[1] == GO_AWAY


ANOTHER = 'c[2010,"Another connection still open"]'


def first_answer_after_abort(server, sid):
    """The first answer that is not 2010. A reset travels asynchronously: until
    the server has read it, the aborted request still counts as attached."""

    def not_2010():
        frame = poll(server, "/echo", sid)[1]
        return frame != ANOTHER and frame

    return poll_until(not_2010, 3, "an answer other than 2010")


@pytest.mark.parametrize("transport", ["xhr_streaming", "eventsource", "htmlfile"])
def test_aborted_receiver_then_next_request_gets_open_or_1002(server, transport):
    sid = new_sid()
    rx = Receiver(server, "/echo", sid, transport)
    assert rx.frame() == "o"
    rx.raw.abort()
    frame = first_answer_after_abort(server, sid)
    assert frame in ("o", 'c[1002,"Connection interrupted"]')
    if frame != "o":  # the close frame is repeated like any other
        assert poll(server, "/echo", sid)[1] == frame


def test_aborted_xhr_poll_then_next_request_gets_open_or_1002(server):
    sid = open_session(server)
    raw = Raw(server)
    raw.send_request("POST", session_path("/echo", sid, "xhr"))
    assert raw.quiet_for(0.2)  # held: nothing to send yet
    raw.abort()
    frame = first_answer_after_abort(server, sid)
    assert frame in ("o", 'c[1002,"Connection interrupted"]')


@pytest.fixture
def fast(server_factory):
    """A server with a 0.2 s heartbeat and a 0.5 s disconnect delay."""
    return server_factory("--heartbeat-delay", "0.2", "--disconnect-delay", "0.5")


@pytest.mark.parametrize("transport", ["xhr", "jsonp"])
def test_polling_answers_heartbeat_after_heartbeat_delay(fast, transport):
    sid = new_sid()
    assert poll(fast, "/echo", sid, transport)[1] == "o"
    r, frame = poll(fast, "/echo", sid, transport, timeout=3)
    assert frame == "h"
    assert r.body in (b"h\n", b'/**/cb("h");\r\n')


@pytest.mark.parametrize("transport", ["xhr_streaming", "eventsource", "htmlfile"])
def test_streaming_sends_heartbeat_frames(fast, transport):
    with Receiver(fast, "/echo", new_sid(), transport) as rx:
        assert rx.frame() == "o"
        assert rx.frame(timeout=3) == "h"
        assert rx.frame(timeout=3) == "h"


def test_session_expires_after_disconnect_delay_then_send_is_404(fast):
    sid = open_session(fast)
    send(fast, "/echo", sid, ["still alive"])  # within the delay
    path = session_path("/echo", sid, "xhr_send")
    poll_until(lambda: request(fast, "POST", path, b'["x"]').status == 404, 5, "the session to expire")
    assert poll(fast, "/echo", sid)[1] == "o"  # a new session with the same id


def test_closed_session_expires_and_id_opens_a_new_session(fast):
    sid = new_sid()
    assert poll(fast, "/close", sid)[1] == "o"
    assert poll(fast, "/close", sid)[1] == GO_AWAY
    poll_until(
        lambda: request(fast, "POST", session_path("/close", sid, "xhr_send"), b'["x"]').status == 404,
        5,
        "the closed session to expire",
    )
    assert poll(fast, "/close", sid)[1] == "o"


@pytest.mark.parametrize("transport", ["xhr", "jsonp"])
def test_polled_session_stays_alive_long_past_disconnect_delay(fast, transport):
    """Every poll re-arms the expiry: a session busy with sends and polls for
    three times the 0.5 s delay keeps going and never turns into a new one."""
    sid = new_sid()
    assert poll(fast, "/echo", sid, transport)[1] == "o"
    deadline = time.monotonic() + 1.5
    count = 0
    while time.monotonic() < deadline:
        count += 1
        send(fast, "/echo", sid, [str(count)])
        assert poll(fast, "/echo", sid, transport)[1] == f'a["{count}"]'
    assert count > 10


def test_attached_streaming_request_keeps_session_alive_past_disconnect_delay(fast):
    sid = new_sid()
    with Receiver(fast, "/echo", sid, "xhr_streaming") as rx:
        assert rx.frame() == "o"
        for _ in range(6):  # heartbeats every 0.2 s: > 1 s attached, twice the delay
            assert rx.frame(timeout=3) == "h"
        send(fast, "/echo", sid, ["alive"])
        frame = rx.frame()
        while frame == "h":
            frame = rx.frame()
        assert frame == 'a["alive"]'
