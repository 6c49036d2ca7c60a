"""The in-process HandlerClient users test their handlers with."""

import pytest

from sockjs_gevent import Refuse, SockJS
from sockjs_gevent.testing import HandlerClient


def echo(conn):
    for message in conn:
        conn.send(message)


def test_echo_round_trip_and_close():
    with HandlerClient(SockJS(echo, "/echo")) as client:
        client.send("a", "b")
        assert [client.recv(), client.recv()] == ["a", "b"]
        with pytest.raises(TimeoutError):
            client.recv(timeout=0.05)


def test_server_close_is_observable():
    def bye(conn):
        conn.send("bye")
        conn.close(3001, "done")

    with HandlerClient(SockJS(bye)) as client:
        assert client.recv() == "bye"
        assert client.wait_closed() == (3001, "done")
        assert client.recv() is None


def test_connection_info_reaches_the_handler():
    seen = {}

    def who(conn):
        seen.update(headers=conn.headers, cookies=conn.cookies, addr=conn.remote_addr)

    with HandlerClient(
        SockJS(who), headers={"User-Agent": "pytest", "Authorization": "x"}, cookies={"sid": "42"}
    ) as client:
        client.wait_closed()
    assert seen == {
        "headers": {"user-agent": "pytest", "host": "localhost"},
        "cookies": {"sid": "42"},
        "addr": "127.0.0.1",
    }


@pytest.mark.parametrize(
    "hook, expected",
    [
        (lambda conn: False, (3003, "Forbidden")),
        (lambda conn: (_ for _ in ()).throw(Refuse(4001, "Login required")), (4001, "Login required")),
        (lambda conn: 1 / 0, (1011, "Internal error")),
    ],
)
def test_before_open_refuses_without_running_the_handler(hook, expected):
    ran = []
    with HandlerClient(SockJS(lambda conn: ran.append(1), before_open=hook)) as client:
        assert client.refused
        assert client.wait_closed() == expected
    assert ran == []


def test_before_open_returning_none_opens():
    with HandlerClient(SockJS(echo, before_open=lambda conn: None)) as client:
        client.send("x")
        assert client.recv() == "x"


def crashes(conn):
    for message in conn:
        raise KeyError(f"no such command {message!r}")


def test_a_handler_crash_fails_the_test_even_without_recv():
    with pytest.raises(KeyError, match="no such command 'x'"):
        with HandlerClient(SockJS(crashes)) as client:
            client.send("x")


def test_a_handler_crash_is_raised_from_recv_and_wait_closed():
    with HandlerClient(SockJS(crashes)) as client:
        client.send("x")
        with pytest.raises(KeyError):
            client.recv()
    with HandlerClient(SockJS(crashes)) as client:
        client.send("y")
        with pytest.raises(KeyError):
            client.wait_closed()


def test_raise_errors_false_shows_the_1011_close_instead():
    with HandlerClient(SockJS(crashes), raise_errors=False) as client:
        client.send("x")
        assert client.wait_closed() == (1011, "Internal error")
