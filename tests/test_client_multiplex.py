"""sockjs_gevent.client's multiplex client (MultiplexConnection) against real servers.

The test server's /multiplex (sockjs_gevent.testserver.MULTIPLEX: echo,
shout, events, kick ...) in a subprocess, and an in-process server for what
the test server does not do (frames that are not multiplex frames, names
that need escaping).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import gevent
import pytest

from sockjs_gevent import SockJS
from sockjs_gevent.client import (
    ClientConnection,
    MultiplexConnection,
    MultiplexStream,
    StreamOverflowError,
    connect,
    connect_multiplex,
)
from sockjs_gevent.multiplex import Multiplexer
from sockjs_gevent.multiplex.testing import MultiplexClient
from sockjs_gevent.server import build_server
from testkit.serverproc import ROOT, start_server

#: websocket and the two HTTP ways of receiving (xhr_send carries what the client sends).
TRANSPORTS = ["websocket", "xhr-streaming", "xhr-polling"]
WAIT = 10.0  # seconds: a bound for waits that should end at once


@pytest.fixture(params=TRANSPORTS)
def mux(request, server) -> Iterator[MultiplexConnection]:
    """A multiplex connection to the test server's /multiplex over each transport."""
    with connect_multiplex(server.url("/multiplex"), transport=request.param, timeout=5) as connection:
        yield connection


def join(*greenlets: gevent.Greenlet) -> list:
    """The greenlets' results; fails if one has not ended within WAIT or raised."""
    done = gevent.joinall(greenlets, timeout=WAIT, raise_error=True)
    assert len(done) == len(greenlets), "a greenlet is still waiting"
    return [g.value for g in greenlets]


def listen_for_close(mux: MultiplexConnection) -> tuple[MultiplexStream, str]:
    """The events stream, joined, and a fresh tag to name a stream by (``tag TAG``)."""
    events = mux.subscribe("events")
    assert events.recv(timeout=WAIT) == "listening"
    return events, uuid.uuid4().hex


def closed_event(events: MultiplexStream, tag: str) -> str:
    """``closed TAG NAME CODE REASON``: how the server's handler of the tagged stream ended."""
    for message in events:  # the channel is the server's: other tests' streams report there too
        if message.startswith(f"closed {tag} "):
            return message
    raise AssertionError("the events stream closed")


# -- streams side by side -----------------------------------------------------------


def test_two_greenlets_each_consume_their_own_stream(mux):
    echo, shout = mux.subscribe("echo"), mux.subscribe("shout")

    def pump(stream: MultiplexStream, prefix: str) -> list:
        for i in range(100):
            stream.send(f"{prefix} {i}, with a comma")
        return [stream.recv(timeout=WAIT) for _ in range(100)]

    got_echo, got_shout = join(gevent.spawn(pump, echo, "e"), gevent.spawn(pump, shout, "s"))
    assert got_echo == [f"e {i}, with a comma" for i in range(100)]
    assert got_shout == [f"S {i}, WITH A COMMA" for i in range(100)]


def test_a_greenlet_waiting_on_one_stream_does_not_hold_up_another(mux):
    echo, shout = mux.subscribe("echo"), mux.subscribe("shout")
    waiter = gevent.spawn(echo.recv, WAIT)  # blocks until "done" comes on echo

    def talk() -> list:
        answers = []
        for i in range(20):
            shout.send(f"x{i}")
            answers.append(shout.recv(timeout=WAIT))
        echo.send("done")
        return answers

    answers, done = join(gevent.spawn(talk), waiter)
    assert answers == [f"X{i}" for i in range(20)]
    assert done == "done"


def test_json_both_ways(mux):
    echo = mux.subscribe("echo")
    assert echo.send_json({"a": [1, "é", None]}) is True
    assert echo.recv_json(timeout=WAIT) == {"a": [1, "é", None]}
    echo.send("not json")
    with pytest.raises(ValueError):
        echo.recv_json(timeout=WAIT)


def test_whoami_sees_the_transport(mux):
    whoami = mux.subscribe("whoami")
    facts = whoami.recv_json(timeout=WAIT)
    assert facts["name"] == "whoami" and facts["path"] == "/multiplex"
    assert facts["transport"] == mux.connection.transport_name


# -- closing --------------------------------------------------------------------------


def test_the_server_closing_a_stream_ends_that_stream_only(mux):
    echo, shout = mux.subscribe("echo"), mux.subscribe("shout")
    echo.send("before")
    echo.send("unsubscribe me")  # the server's handler closes the stream

    def read_all(stream: MultiplexStream) -> list:
        return list(stream)

    assert join(gevent.spawn(read_all, echo)) == [["before"]]
    assert echo.closed and echo.close_reason == "unsubscribed by the server"
    assert echo.recv() is None and echo.send("late") is False
    assert not shout.closed
    shout.send("still here")
    assert shout.recv(timeout=WAIT) == "STILL HERE"
    assert mux.streams == [shout]


def test_a_name_the_server_does_not_serve_is_closed_at_once(mux):
    nobody = mux.subscribe("nobody")
    assert list(nobody) == []
    assert nobody.close_reason == "unsubscribed by the server"


def test_closing_a_stream_tells_the_server_and_frees_the_name(mux):
    events, tag = listen_for_close(mux)
    echo = mux.subscribe("echo")
    echo.send(f"tag {tag}")
    assert echo.recv(timeout=WAIT) == f"tag {tag}"
    with pytest.raises(ValueError, match="already open"):
        mux.subscribe("echo")
    echo.close()
    assert echo.closed and echo.close_reason == "closed by the client"
    assert echo.send("late") is False and echo.recv() is None
    assert closed_event(events, tag) == f"closed {tag} echo 1000 Unsubscribed"
    again = mux.subscribe("echo")
    again.send("again")
    assert again.recv(timeout=WAIT) == "again"


def test_closing_the_connection_ends_every_stream(mux):
    echo, shout = mux.subscribe("echo"), mux.subscribe("shout")
    readers = [gevent.spawn(list, echo), gevent.spawn(list, shout)]
    echo.send("one")
    assert shout.send("two")
    mux.close()  # (the echoes may or may not have come back by now)
    for got in join(*readers):
        assert got in ([], ["one"], ["TWO"])
    assert echo.closed and shout.closed and mux.closed
    assert echo.close_reason == "the connection closed (1000 Normal closure)"
    assert mux.streams == [] and mux.subscribe("echo").closed


def test_the_server_closing_the_connection_ends_every_stream(mux):
    echo, kick = mux.subscribe("echo"), mux.subscribe("kick")
    reader = gevent.spawn(list, echo)
    kick.send("go")  # the kick stream closes the whole SockJS connection: 3001 Kicked
    assert join(reader) == [[]]
    assert kick.recv(timeout=WAIT) is None
    assert (mux.connection.close_code, mux.connection.close_reason) == (3001, "Kicked")
    assert echo.close_reason == kick.close_reason == "the connection closed (3001 Kicked)"


def test_the_context_manager_closes_the_connection(server):
    with connect_multiplex(server.url("/multiplex"), transport="websocket") as mux:
        with mux.subscribe("echo") as echo:
            echo.send("hi")
            assert echo.recv(timeout=WAIT) == "hi"
        assert echo.closed and echo.close_reason == "closed by the client"
        shout = mux.subscribe("shout")
    assert mux.closed and shout.closed


# -- waiting and bounds ---------------------------------------------------------------


def test_recv_times_out_and_the_stream_goes_on(mux):
    echo = mux.subscribe("echo")
    with pytest.raises(TimeoutError, match="'echo'"):
        echo.recv(timeout=0.2)
    assert not echo.closed
    echo.send("after")
    assert echo.recv(timeout=WAIT) == "after"


def test_a_stream_nobody_reads_is_given_up_at_max_queued(server):
    """The bound: past max_queued unread messages the client unsubscribes the
    stream and drops the rest; its reader gets what was queued, then
    StreamOverflowError. The other streams are not held up."""
    with connect_multiplex(server.url("/multiplex"), transport="websocket", max_queued=8) as mux:
        events, tag = listen_for_close(mux)
        echo, shout = mux.subscribe("echo"), mux.subscribe("shout")
        echo.send(f"tag {tag}")
        for i in range(500):
            echo.send(f"m{i}")
        assert echo.wait_closed(WAIT)
        assert echo.queued == 8 and "max_queued" in echo.close_reason
        assert mux.dropped >= 1  # the ninth message, and those the server had sent before our uns
        # The server's handler of the stream saw the client unsubscribe.
        assert closed_event(events, tag) == f"closed {tag} echo 1000 Unsubscribed"
        shout.send("not held up")
        assert shout.recv(timeout=WAIT) == "NOT HELD UP"
        got = []
        with pytest.raises(StreamOverflowError, match="more than 8 unread messages"):
            for message in echo:
                got.append(message)
        assert got == [f"tag {tag}"] + [f"m{i}" for i in range(7)]
        with pytest.raises(StreamOverflowError):  # every later recv says so too
            echo.recv()
        assert mux.streams == [events, shout]


def test_max_queued_is_checked(server):
    conn = ClientConnection(server.url("/multiplex"))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_queued"):
            MultiplexConnection(conn, max_queued=bad)


# -- an in-process server: what the test server does not send ------------------------


def noisy_echo(stream) -> None:
    """Echo, with a message that is not a multiplex frame before each answer."""
    for message in stream:
        stream.connection.send("not a frame")
        stream.send(message)


def noisy_service(conn) -> None:
    """Junk first (bad frames, a sub, a msg for no stream), then the multiplexer."""
    for junk in ("garbage", "sub,echo", "msg,echo", "uns,a,b", "msg,nobody,hi"):
        conn.send(junk)
    Multiplexer({"my chat": noisy_echo})(conn)


@pytest.fixture
def noisy_url() -> Iterator[str]:
    server = build_server(SockJS(noisy_service, prefix="/noisy"), "127.0.0.1", 0)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/noisy"
    finally:
        server.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_malformed_frames_from_the_server_are_counted_and_dropped(noisy_url, transport):
    with connect_multiplex(noisy_url, transport=transport, timeout=5) as mux:
        chat = mux.subscribe("my chat")  # travels as my%20chat, as the browser's escape() makes it
        assert chat.wire_name == "my%20chat"
        chat.send("hello, you")
        assert chat.recv(timeout=WAIT) == "hello, you"
        # Everything before the answer has been read, in order:
        assert mux.malformed == 5  # garbage, a sub, a msg without payload, uns with a payload, "not a frame"
        assert mux.dropped == 1  # msg,nobody,hi
        chat.send("again")
        assert chat.recv(timeout=WAIT) == "again"
        assert mux.malformed == 6 and not mux.closed


# -- what it takes ---------------------------------------------------------------------


def test_it_takes_a_client_connection_and_says_what_else_to_use():
    with pytest.raises(TypeError, match=r"connect_multiplex\(url\); got a URL"):
        MultiplexConnection("http://127.0.0.1:9/mux")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sockjs_gevent.multiplex.testing.MultiplexClient"):
        MultiplexConnection(SockJS(Multiplexer({})))  # type: ignore[arg-type]


def test_the_test_client_points_to_the_network_client(server):
    conn = connect(server.url("/multiplex"), transport="websocket")
    with pytest.raises(TypeError, match=r"MultiplexConnection\(conn\)"):
        MultiplexClient(conn)  # type: ignore[arg-type]
    with MultiplexConnection(conn) as mux:
        with pytest.raises(TypeError, match="already the multiplex client over the network"):
            MultiplexClient(mux)  # type: ignore[arg-type]


# -- the example of docs/client.md ------------------------------------------------------

EXAMPLE = os.path.join(ROOT, "examples", "multiplex", "client.py")


def run_example(*args: str) -> list[str]:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        [sys.executable, EXAMPLE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_client_example_runs_on_its_own():
    assert run_example() == ["ticker: ['tick 0', 'tick 1', 'tick 2']", "shout: ['HELLO', 'MULTIPLEXED', 'WORLD']"]


def test_the_client_example_talks_to_the_multiplex_example_server():
    if not os.path.exists(os.path.join(ROOT, "node_modules", "websocket-multiplex")):
        pytest.skip("examples/multiplex/server.py serves node_modules/: run npm install")
    server = start_server(["examples/multiplex/server.py", "--port", "0"])
    try:
        ticker, shout = run_example(server.url("/mux"))
    finally:
        server.stop()
    assert ticker.startswith("ticker: ['") and ticker.count(":") == 7  # three HH:MM:SS times
    assert shout == "shout: ['HELLO', 'MULTIPLEXED', 'WORLD']"
