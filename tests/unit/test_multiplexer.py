"""Multiplexer and Stream in-process: sockjs_gevent.testing.HandlerClient, no sockets.

The client side speaks the websocket-multiplex format by hand here (what
the browser's multiplex_client.js sends), or through MultiplexClient.
"""

import logging
from unittest import mock

import gevent
import pytest
from gevent.event import Event

from sockjs_gevent import SockJS, channels, protocol
from sockjs_gevent.channels import ChannelHub
from sockjs_gevent.multiplex import DEFAULT_MAX_STREAMS, Multiplexer
from sockjs_gevent.multiplex.testing import MultiplexClient
from sockjs_gevent.session import State
from sockjs_gevent.testing import HandlerClient


def echo(stream):
    for message in stream:
        stream.send(message)


def shout(stream):
    for message in stream:
        stream.send(message.upper())


def recv_all(client, count, timeout=1.0):
    """The next ``count`` messages the server sent, grouped by stream (order across streams is free)."""
    got = {}
    for _ in range(count):
        message = client.recv(timeout)
        assert message is not None, f"session closed; got {got}"
        kind, name, *rest = message.split(",", 2)
        got.setdefault(name, []).append(message)
    return got


def assert_silent(client):
    """Nothing more was sent once every greenlet has had its turn."""
    gevent.idle()
    gevent.idle()
    assert client.session.take_messages() == []


# --- several streams --------------------------------------------------------------------


def test_two_streams_at_once_each_get_their_own_messages():
    with HandlerClient(SockJS(Multiplexer({"echo": echo, "shout": shout}))) as client:
        client.send("sub,echo", "sub,shout", "msg,echo,a", "msg,shout,b", "msg,echo,c,d", "msg,shout,")
        assert recv_all(client, 4) == {
            "echo": ["msg,echo,a", "msg,echo,c,d"],
            "shout": ["msg,shout,B", "msg,shout,"],
        }


def test_multiplex_client_helper_round_trip():
    with MultiplexClient(SockJS(Multiplexer({"echo": echo, "shout": shout}))) as client:
        a, b = client.subscribe("echo"), client.subscribe("shout")
        a.send("x,y")
        b.send("z")
        assert (a.recv(), b.recv()) == ("x,y", "Z")


def test_a_name_the_browser_escapes_is_found_under_its_escaped_form():
    with MultiplexClient(SockJS(Multiplexer({"my chat, 2": echo}))) as client:
        client.send_raw("sub,my%20chat%2C%202", "msg,my%20chat%2C%202,hi")
        assert client.client.recv() == "msg,my%20chat%2C%202,hi"
        stream = client.subscribe("my chat, 2")  # same wire name: the open stream serves it
        stream.send("again")
        assert stream.recv() == "again"


def test_stream_shows_the_connection_facts_and_has_its_own_id_and_attributes():
    seen = {}

    def facts(stream):
        conn = stream.connection
        seen.update(
            name=stream.name,
            wire=stream.wire_name,
            transport=stream.transport,
            path=stream.path,
            remote=stream.remote_addr,
            ua=stream.headers.get("user-agent"),
            cookies=stream.cookies,
            environ_path=stream.environ["PATH_INFO"],
            id=stream.id,
            conn_id=conn.id,
            state=stream.state,
            repr=repr(stream),
        )
        stream.user = "ann"
        stream.send(stream.user)

    service = SockJS(Multiplexer({"facts here": facts}), "/mux")
    with HandlerClient(
        service, headers={"User-Agent": "test-agent"}, cookies={"k": "v"}, transport="xhr-streaming"
    ) as client:
        client.send("sub,facts%20here")
        assert client.recv() == "msg,facts%20here,ann"
    assert seen["name"] == "facts here" and seen["wire"] == "facts%20here"
    assert seen["transport"] == "xhr-streaming" and seen["path"] == "/mux" == seen["environ_path"]
    assert seen["remote"] == "127.0.0.1" and seen["ua"] == "test-agent" and seen["cookies"] == {"k": "v"}
    assert len(seen["id"]) == 32 and seen["id"] != seen["conn_id"]
    assert seen["state"] is State.OPEN
    assert "facts here" in seen["repr"] and "open" in seen["repr"]


def test_json_helpers_and_text_only():
    errors = []

    def handler(stream):
        value = stream.recv_json()
        stream.send_json({"got": value})
        try:
            stream.send(b"bytes")
        except TypeError as exc:
            errors.append(exc)

    with HandlerClient(SockJS(Multiplexer({"j": handler}))) as client:
        client.send("sub,j", 'msg,j,[1,"a,b"]')
        assert client.recv() == 'msg,j,{"got":[1,"a,b"]}'
        assert client.recv() == "uns,j"  # the handler returned
    assert len(errors) == 1


# --- closing ----------------------------------------------------------------------------


def test_server_close_sends_uns_and_the_other_streams_go_on():
    closed = {}

    def closer(stream):
        for message in stream:
            if message == "bye":
                stream.close(3000, "Bye now")
                closed["send_after_close"] = stream.send("too late")
        closed["code"] = (stream.close_code, stream.close_reason, stream.closed)

    with HandlerClient(SockJS(Multiplexer({"closer": closer, "echo": echo}))) as client:
        client.send("sub,closer", "sub,echo", "msg,closer,bye")
        assert client.recv() == "uns,closer"
        client.send("msg,echo,still here")
        assert client.recv() == "msg,echo,still here"
        assert closed == {"send_after_close": False, "code": (3000, "Bye now", True)}
        client.send("sub,closer", "msg,closer,bye")  # the name is free again: a fresh handler
        assert client.recv() == "uns,closer"


def test_a_handler_that_returns_closes_its_stream_with_uns():
    with HandlerClient(SockJS(Multiplexer({"once": lambda stream: stream.send("hello")}))) as client:
        client.send("sub,once")
        assert [client.recv(), client.recv()] == ["msg,once,hello", "uns,once"]


def test_close_checks_code_and_reason_like_a_connection():
    results = []

    def handler(stream):
        for args in [(1001, "x"), (2999, "x"), (3000, "x" * 124)]:
            with pytest.raises(ValueError):
                stream.close(*args)
        results.append(stream.closed)

    with HandlerClient(SockJS(Multiplexer({"h": handler}))) as client:
        client.send("sub,h")
        assert client.recv() == "uns,h"
    assert results == [False]


def test_client_uns_ends_the_handlers_iteration_after_what_came_before():
    seen = []
    done = Event()

    def reader(stream):
        seen.extend(stream)
        seen.append((stream.close_code, stream.close_reason))
        done.set()

    with HandlerClient(SockJS(Multiplexer({"r": reader, "echo": echo}))) as client:
        client.send("sub,r", "sub,echo", "msg,r,1", "msg,r,2", "uns,r")
        assert done.wait(1)
        assert seen == ["1", "2", (1000, "Unsubscribed")]
        client.send("msg,echo,ok")
        assert client.recv() == "msg,echo,ok"  # no uns,r: the client closed it, it knows
        client.send("msg,r,after")  # in flight when the client unsubscribed: dropped quietly
        assert_silent(client)


def test_on_close_callbacks_get_the_stream():
    calls = []

    def handler(stream):
        stream.on_close(lambda s: calls.append(("first", s.name, s.close_code)))
        for _ in stream:
            pass
        stream.on_close(lambda s: calls.append(("late", s.name)))  # already closed: at once

    with HandlerClient(SockJS(Multiplexer({"h": handler}))) as client:
        client.send("sub,h", "uns,h")
        gevent.idle()
        gevent.idle()
    assert calls == [("first", "h", 1000), ("late", "h")]


def test_outer_close_ends_every_stream_with_the_connections_code():
    seen = {}
    release = Event()

    def waiter(stream):
        for _ in stream:
            pass
        seen[stream.name] = (stream.close_code, stream.close_reason)
        release.wait(1)  # still running after the close: the session's handler waits for it

    client = HandlerClient(SockJS(Multiplexer({"a": waiter, "b": waiter})))
    client.send("sub,a", "sub,b")
    gevent.idle()
    client.session.close(3001, "Kicked")
    gevent.idle()
    gevent.idle()
    assert seen == {"a": (3001, "Kicked"), "b": (3001, "Kicked")}
    assert not client.session.handler_greenlet.dead
    release.set()
    client.session.handler_greenlet.join(1)
    assert client.session.handler_greenlet.dead
    assert client.session.take_messages() == []  # no uns after the connection closed


def test_a_stream_can_close_the_whole_connection():
    seen = []

    def kicker(stream):
        stream.recv()
        stream.connection.close(3002, "Kicked out")

    def watcher(stream):
        for _ in stream:
            pass
        seen.append((stream.close_code, stream.close_reason))

    with HandlerClient(SockJS(Multiplexer({"kick": kicker, "watch": watcher}))) as client:
        client.send("sub,watch", "sub,kick", "msg,kick,go")
        assert client.wait_closed() == (3002, "Kicked out")
        client.session.handler_greenlet.join(1)
    assert seen == [(3002, "Kicked out")]


def test_sub_that_arrived_with_the_close_starts_nothing():
    started = []
    client = HandlerClient(SockJS(Multiplexer({"a": started.append})))
    client.send("sub,a")
    client.session.close(1000, "Normal closure")  # before the multiplexer read the sub
    client.session.handler_greenlet.join(1)
    assert started == []


def test_killing_the_session_handler_kills_stuck_stream_handlers():
    entered = Event()
    finished = []

    def stuck(stream):
        entered.set()
        try:
            gevent.sleep(60)
        finally:
            finished.append(stream.closed)

    client = HandlerClient(SockJS(Multiplexer({"stuck": stuck})))
    client.send("sub,stuck")
    assert entered.wait(1)
    client.close(timeout=0.1)  # joins the session handler, then kills it
    gevent.sleep(0)
    assert finished == [True]


# --- what a client gets wrong -----------------------------------------------------------


def test_unknown_names_are_answered_uns_and_counted():
    service = SockJS(Multiplexer({"echo": echo}))
    with HandlerClient(service) as client:
        client.send("sub,nope", "msg,nope,x", "uns,nope", "sub,echo", "msg,echo,fine")
        assert client.recv() == "uns,nope"
        assert client.recv() == "msg,echo,fine"
        assert_silent(client)
    assert service.stats.problems["multiplex_unknown"] == 3


@pytest.mark.parametrize("bad", ["", "hello", "sub", "sub,", "pub,echo", "msg,echo", "sub,echo,extra", "SUB,echo"])
def test_malformed_messages_are_dropped_and_counted(bad):
    service = SockJS(Multiplexer({"echo": echo}))
    with HandlerClient(service) as client:
        client.send("sub,echo", bad, "msg,echo,after")
        assert client.recv() == "msg,echo,after"
        assert_silent(client)
        assert not client.closed
    assert service.stats.problems["multiplex_malformed"] == 1


def test_a_second_sub_of_an_open_stream_is_ignored():
    started = []

    def counted(stream):
        started.append(stream)
        echo(stream)

    with HandlerClient(SockJS(Multiplexer({"c": counted}))) as client:
        client.send("sub,c", "msg,c,1", "sub,c", "msg,c,2")
        assert [client.recv(), client.recv()] == ["msg,c,1", "msg,c,2"]
    assert len(started) == 1


def test_a_handler_that_raises_closes_only_its_stream(caplog):
    def crash(stream):
        for message in stream:
            raise RuntimeError(f"crash on {message}")

    service = SockJS(Multiplexer({"crash": crash, "echo": echo}))
    with caplog.at_level(logging.ERROR, "sockjs_gevent.multiplex"):
        with HandlerClient(service) as client:
            client.send("sub,crash", "sub,echo", "msg,crash,boom")
            assert client.recv() == "uns,crash"
            client.send("msg,echo,alive")
            assert client.recv() == "msg,echo,alive"
            assert not client.closed
    assert service.stats.problems["handler"] == 1
    (record,) = [r for r in caplog.records if "failed" in r.getMessage()]
    assert "stream 'crash'" in record.getMessage() and record.exc_info[0] is RuntimeError
    assert record.sockjs_stream == "crash"


def test_max_streams_bounds_running_handlers_closed_ones_included(caplog):
    release = Event()

    def stubborn(stream):
        for _ in stream:
            pass
        release.wait(5)  # ignores the close for a while: still holds its slot

    service = SockJS(Multiplexer({"a": stubborn, "b": stubborn, "c": echo}, max_streams=2))
    with caplog.at_level(logging.WARNING, "sockjs_gevent.multiplex"):
        with HandlerClient(service) as client:
            client.send("sub,a", "sub,b", "sub,c")
            assert client.recv() == "uns,c"
            client.send("uns,a", "sub,c")  # a is closed but its handler has not returned
            assert client.recv() == "uns,c"
            release.set()
            gevent.idle()
            gevent.idle()
            client.send("sub,c", "msg,c,now")
            assert client.recv() == "msg,c,now"
    assert service.stats.problems["multiplex_limit"] == 2
    assert len([r for r in caplog.records if "max_streams" in r.getMessage()]) == 1  # once per session


def test_subscribe_unsubscribe_churn_never_exceeds_max_streams():
    running = set()
    peak = []
    release = Event()

    def slow(stream):
        running.add(stream)
        peak.append(len(running))
        for _ in stream:
            pass
        release.wait(5)  # slow to return after the client unsubscribed
        running.discard(stream)

    service = SockJS(Multiplexer({"s": slow}, max_streams=3))
    with HandlerClient(service) as client:
        for _ in range(50):
            client.send("sub,s", "uns,s")
        gevent.idle()
        gevent.idle()
        assert max(peak) == 3 and len(running) == 3
        assert service.stats.problems["multiplex_limit"] == 47
        release.set()
    assert running == set()


def test_a_full_stream_inbox_closes_that_stream_only(caplog):
    go = Event()
    read = []

    def slow(stream):
        go.wait(2)
        read.extend(stream)
        read.append(stream.close_code)

    # max_inbox_bytes counts characters plus 64 per message: 1000 holds 9 of these 40-character messages.
    service = SockJS(Multiplexer({"slow": slow, "echo": echo}), max_message_size=100, max_inbox_bytes=1000)
    payloads = [f"{i:02d}" + "x" * 38 for i in range(20)]
    with caplog.at_level(logging.WARNING, "sockjs_gevent.multiplex"):
        with HandlerClient(service) as client:
            client.send("sub,slow", "sub,echo", *[f"msg,slow,{p}" for p in payloads])
            assert client.recv() == "uns,slow"
            client.send("msg,echo,unaffected")
            assert client.recv() == "msg,echo,unaffected"
            go.set()
            gevent.idle()
            gevent.idle()
    assert read == payloads[:9] + [1008]
    assert service.stats.problems["multiplex_inbox_full"] == 1
    assert any("max_inbox_bytes" in r.getMessage() for r in caplog.records)


# --- pub/sub channels from stream handlers -------------------------------------------------


def test_streams_join_channels_publish_and_are_reached_by_id():
    hub = ChannelHub()

    def chat(stream):
        room = hub.channel("lobby")
        room.join(stream)
        stream.send("id " + stream.id)
        for message in stream:
            room.publish(message, exclude=stream)

    def plain(conn):
        hub.channel("lobby").join(conn)
        for message in conn:
            hub.channel("lobby").publish(message, exclude=conn)

    mux = SockJS(Multiplexer({"chat": chat, "echo": echo}))
    with MultiplexClient(mux) as a, MultiplexClient(mux) as b, HandlerClient(SockJS(plain)) as c:
        a_chat, b_chat = a.subscribe("chat"), b.subscribe("chat")
        a_id = a_chat.recv().split()[1]
        b_chat.recv()
        gevent.idle()
        assert len(hub.channel("lobby")) == 3
        a_chat.send("from a")
        assert b_chat.recv() == "from a" and c.recv() == "from a"
        c.send("from c")
        assert a_chat.recv() == "from c" and b_chat.recv() == "from c"
        hub.send_to(a_id, "just a")
        assert a_chat.recv() == "just a"
        a_chat.close()
        a_echo = a.subscribe("echo")  # the same session, another stream: still there
        a_echo.send("x")
        assert a_echo.recv() == "x"
        assert len(hub.channel("lobby")) == 2  # a's chat stream left when it closed
        assert a_chat not in hub.channel("lobby").members


def test_a_publish_to_streams_still_quotes_the_text_once():
    hub = ChannelHub()

    def chat(stream):
        hub.channel("room").join(stream)
        stream.send("in")
        for _ in stream:
            pass

    mux = SockJS(Multiplexer({"chat": chat}))
    clients = [MultiplexClient(mux) for _ in range(3)]
    streams = [client.subscribe("chat") for client in clients]
    assert [s.recv() for s in streams] == ["in"] * 3
    text = 'caf\u00e9 \u2028 "q" \ud800'
    with mock.patch("sockjs_gevent.channels.hub.protocol.quote", wraps=protocol.quote) as quote:
        hub.channel("room").publish(text)
    assert quote.call_count == 1
    assert [s.recv() for s in streams] == [text] * 3
    for client in clients:
        client.close()


def test_send_quoted_frame_is_the_quote_of_the_whole_message():
    hub = ChannelHub()
    joined = Event()

    def chat(stream):
        hub.channel("room").join(stream)
        joined.set()
        for _ in stream:
            pass

    service = SockJS(Multiplexer({"my chat": chat}))
    client = HandlerClient(service)
    client.session.raw = False  # keep the quoted form this time, as a SockJS transport would
    client.send("sub,my%20chat")
    assert joined.wait(1)
    text = 'a\u2028b\x00"\\ \ud83d\ude00 \udfff'
    hub.channel("room").publish(text)
    assert client.session.take_messages() == [protocol.quote("msg,my%20chat," + text)]
    client.close()


def test_channels_module_functions_accept_streams():
    def chat(stream):
        room = stream.channel("scoped")
        room.join(stream)
        stream.send(",".join(channels.rooms_of(stream)))
        for _ in stream:
            pass

    with MultiplexClient(SockJS(Multiplexer({"chat": chat}), "/muxscope")) as client:
        assert client.subscribe("chat").recv() == "scoped"


# --- state and construction -------------------------------------------------------------


def test_stream_state_moves_forward_and_is_logged(caplog):
    states = []
    holder = []
    entered = Event()

    def handler(stream):
        holder.append(stream)
        states.append(stream.state)
        entered.set()
        stream.recv()
        states.append(stream.state)

    with caplog.at_level(logging.DEBUG, "sockjs_gevent.multiplex"):
        with HandlerClient(SockJS(Multiplexer({"h": handler}))) as client:
            client.send("sub,h")
            assert entered.wait(1)
            client.send("uns,h")
            gevent.idle()
            gevent.idle()
    assert states == [State.OPEN, State.CLOSING]
    assert holder[0].state is State.CLOSED
    moves = [r.getMessage().split(" (")[0] for r in caplog.records if r.getMessage().startswith("stream 'h'")]
    assert moves == ["stream 'h' CONNECTING -> OPEN", "stream 'h' OPEN -> CLOSING", "stream 'h' CLOSING -> CLOSED"]


def test_construction_checks():
    with pytest.raises(TypeError, match="stream handler"):
        Multiplexer({"a": lambda: None})
    with pytest.raises(TypeError, match="async def"):

        async def handler(stream):  # noqa: E306
            pass

        Multiplexer({"a": handler})
    with pytest.raises(ValueError, match="already"):
        mux = Multiplexer({"a": echo})
        mux.add("a", echo)
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(ValueError, match="max_streams"):
            Multiplexer(max_streams=bad)
    with pytest.raises(ValueError):
        Multiplexer({"": echo})
    assert Multiplexer().max_streams == DEFAULT_MAX_STREAMS
    SockJS(Multiplexer())  # a Multiplexer is a valid handler


def test_decorator_registers_and_returns_the_function():
    mux = Multiplexer()

    @mux.stream("b")
    def b(stream):
        echo(stream)

    mux.add("a", shout)
    assert mux.names == ["b", "a"] and b.__name__ == "b"
    assert "Multiplexer" in repr(mux)
    with MultiplexClient(SockJS(mux)) as client:
        stream = client.subscribe("b")
        stream.send("hi")
        assert stream.recv() == "hi"


def test_multiplex_client_sees_closes_like_the_browser():
    def bye(stream):
        stream.send("bye")

    def kick(stream):
        stream.recv()
        stream.connection.close(3001, "Kicked")

    service = SockJS(Multiplexer({"bye": bye, "echo": echo, "kick": kick}))
    with MultiplexClient(service) as client:
        b = client.subscribe("bye")
        assert b.recv() == "bye"
        assert b.recv() is None and b.closed  # the server's uns
        e = client.subscribe("echo")
        e.close()  # the page unsubscribes: it forgets the stream at once
        client.send_raw("sub,nope")
        k = client.subscribe("kick")
        k.send("go")
        assert k.recv() is None and k.closed  # the whole connection closed, no uns
        assert client.client.wait_closed() == (3001, "Kicked")
    with MultiplexClient(SockJS(Multiplexer({"echo": echo}))) as client:
        with pytest.raises(TimeoutError, match="waited 0.01 s for a message on 'echo'"):
            client.subscribe("echo").recv(timeout=0.01)
