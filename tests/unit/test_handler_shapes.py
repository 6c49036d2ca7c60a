"""Handler and hook mistakes fail when the service is built, saying what to write."""

import functools

import pytest

from sockjs_gevent import SockJS
from sockjs_gevent.testing import HandlerClient


def test_a_zero_argument_handler_is_refused():
    def chat():
        pass

    with pytest.raises(TypeError, match=r"chat must take exactly one argument, the connection \(def chat\(conn\)"):
        SockJS(chat)


def test_a_two_argument_handler_is_named_a_wsgi_app():
    def app(environ, start_response):
        pass

    with pytest.raises(TypeError, match="that is a WSGI app, not a SockJS handler"):
        SockJS(app)


def test_an_async_handler_is_refused():
    async def chat(conn):
        pass

    with pytest.raises(TypeError, match="is an async def: handlers are plain functions that block"):
        SockJS(chat)


def test_a_generator_handler_is_refused():
    def chat(conn):
        yield conn.recv()

    with pytest.raises(TypeError, match="is a generator function .* use conn.send"):
        SockJS(chat)


def test_a_non_callable_is_refused():
    with pytest.raises(TypeError, match=r"must be a function taking the connection"):
        SockJS("echo")


@pytest.mark.parametrize(
    "handler",
    [
        lambda conn: None,
        lambda conn, extra=1: None,
        lambda *args: None,
        functools.partial(lambda prefix, conn: None, "x"),
        type("Callable", (), {"__call__": lambda self, conn: None})(),
    ],
)
def test_fine_shapes_are_accepted(handler):
    SockJS(handler, allowed_origins="*")


def test_a_hook_of_no_argument_is_accepted_and_called():
    calls = []

    def logged_in():
        calls.append(1)
        return False

    with HandlerClient(SockJS(lambda conn: None, before_open=logged_in, allowed_origins="*")) as client:
        assert client.refused
    assert calls == [1]


def test_a_hook_of_two_arguments_is_refused():
    with pytest.raises(TypeError, match="must take the connection or nothing"):
        SockJS(lambda conn: None, before_open=lambda a, b: None)
