"""Defects new users met (issue 24): each test failed before its fix."""

import flask
import gevent
import pytest

from sockjs_gevent import Router, SockJS, testing
from sockjs_gevent.callables import check_wsgi_app
from sockjs_gevent.client.connection import ClientConnection
from sockjs_gevent.multiplex import Multiplexer
from sockjs_gevent.multiplex.testing import MultiplexClient
from sockjs_gevent.testing import HandlerClient

# -- 1. a test client returns once the handler waits ---------------------------


def room(conn):
    channel = conn.channel("room")
    channel.join(conn)
    for message in conn:
        channel.publish(message, exclude=conn)


def test_two_handler_clients_of_one_service_hear_each_other_at_once():
    service = SockJS(room, prefix="/room")
    with HandlerClient(service) as a, HandlerClient(service) as b:
        assert len(a.session.connection.channel("room")) == 2  # both joined before __enter__ returned
        a.send("hi")
        assert b.recv(timeout=1) == "hi"


def test_the_handler_has_reached_its_first_wait_when_the_client_is_built():
    steps = []

    def slow_start(conn):
        steps.append("started")
        for _ in range(5):
            gevent.sleep(0)  # cooperative yields are not yet a wait for the client
        steps.append("waiting")
        conn.recv()

    client = HandlerClient(SockJS(slow_start))
    assert steps == ["started", "waiting"]
    client.close()


def test_a_handler_that_never_waits_does_not_hold_up_the_client_for_ever(monkeypatch):
    monkeypatch.setattr(testing, "SETTLE_TIMEOUT", 0.05)

    def spinner(conn):
        while not conn.closed:
            gevent.sleep(0)

    with HandlerClient(SockJS(spinner)) as client:
        assert not client.closed


def test_two_multiplex_clients_hear_each_other_once_subscribed():
    service = SockJS(Multiplexer({"chat": room}), prefix="/mux")
    with MultiplexClient(service) as a, MultiplexClient(service) as b:
        chat_a, chat_b = a.subscribe("chat"), b.subscribe("chat")
        chat_a.send("hi")
        assert chat_b.recv(timeout=1) == "hi"


# -- 4. what is not a WSGI app, a service or a test client's service is refused when given --


def echo(conn):
    for message in conn:
        conn.send(message)


def chat(conn):
    pass


def three(environ, start_response, extra):
    pass


def create_app():
    return SockJS(echo)


@pytest.mark.parametrize(
    "obj, advice",
    [
        (
            [SockJS(echo, prefix="/echo"), SockJS(chat, prefix="/chat")],
            "serve(Router([SockJS(echo, prefix='/echo'), SockJS(chat, prefix='/chat')]))",
        ),
        ((SockJS(echo, prefix="/echo"),), "serve(Router([SockJS(echo, prefix='/echo')]))"),
        (echo, "serve(SockJS(echo, prefix='/echo'))"),
        (Multiplexer({"chat": chat}), "serve(SockJS(mux, prefix='/mux'))"),
        (three, "three takes 3 required arguments"),
        (create_app, "call it, serve(create_app())"),
        (42, "serve(): expected a WSGI app (a SockJS service, a Router, a Flask app"),
    ],
)
def test_serve_refuses_what_is_not_a_wsgi_app_saying_what_to_write(obj, advice):
    with pytest.raises(TypeError) as raised:
        check_wsgi_app(obj, "serve()")
    assert advice in str(raised.value)


def test_a_command_line_target_of_three_arguments_is_not_a_wsgi_app():
    with pytest.raises(TypeError, match=r"^app:three: expected a WSGI app, a function of \(environ, start_response\)"):
        check_wsgi_app(three, "app:three")


def test_an_async_def_and_the_flask_extension_are_not_wsgi_apps():
    from flask_sockjs import SockJS as FlaskSockJS

    async def asgi(scope, receive, send):
        pass

    with pytest.raises(TypeError, match="async def"):
        check_wsgi_app(asgi)
    with pytest.raises(
        TypeError, match=r"got the Flask extension .*: serve the Flask app it is set up on, serve\(app\)"
    ):
        check_wsgi_app(FlaskSockJS())


@pytest.mark.parametrize(
    "app",
    [
        SockJS(echo),
        Router([SockJS(echo)]),
        flask.Flask(__name__),
        lambda environ, start_response: [],
        print,
        type("App", (), {"__init__": lambda self, environ, start_response: None}),
        type("App", (), {"__call__": lambda self, environ, start_response: []})(),
    ],
)
def test_wsgi_apps_pass(app):
    check_wsgi_app(app)


@pytest.mark.parametrize(
    "args, message",
    [
        (([echo],), "Router takes SockJS services, not handler functions: Router([SockJS(echo, prefix='/echo')])"),
        ((SockJS(echo, prefix="/e"),), "Router takes a list of SockJS services: Router([SockJS(echo, prefix='/e')])"),
        ((echo,), "Router([SockJS(echo, prefix='/echo')])"),
        (([flask.Flask(__name__)],), "fallback=app"),
        (([Router([])],), "not another Router"),
        (([], echo), "Router's fallback is a WSGI app (e.g. a Flask app), not a SockJS handler"),
        (([], 42), "Router(fallback=...): expected a WSGI app"),
    ],
)
def test_router_refuses_what_is_not_a_service_saying_what_to_write(args, message):
    with pytest.raises(TypeError) as raised:
        Router(*args)
    assert message in str(raised.value)


def test_router_add_refuses_a_handler_function():
    with pytest.raises(TypeError, match="not handler functions"):
        Router([]).add(echo)


@pytest.mark.parametrize(
    "obj, message",
    [
        (echo, "HandlerClient takes a SockJS service, not a handler: HandlerClient(SockJS(echo, prefix='/echo'))"),
        (Router([]), "HandlerClient(router.service_for('/echo'))"),
        (flask.Flask(__name__), "sockjs.test_client(app, '/echo')"),
        (ClientConnection("http://127.0.0.1:9/echo"), "a ClientConnection talks to a server over the network"),
    ],
)
def test_handler_client_refuses_what_is_not_a_service(obj, message):
    with pytest.raises(TypeError) as raised:
        HandlerClient(obj)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    "obj, message",
    [
        (
            ClientConnection("http://127.0.0.1:9/mux"),
            "multiplex it with sockjs_gevent.client.MultiplexConnection(conn)",
        ),
        (Multiplexer({"chat": chat}), "not a handler: MultiplexClient(SockJS(mux, prefix='/mux'))"),
        (flask.Flask(__name__), "MultiplexClient(sockjs.test_client(app, '/mux'))"),
    ],
)
def test_multiplex_client_refuses_what_is_not_a_service(obj, message):
    with pytest.raises(TypeError) as raised:
        MultiplexClient(obj)
    assert message in str(raised.value)


# -- conveniences: JSON on the test clients -------------------------------------------


def json_echo(conn):
    for value in iter(conn.recv_json, None):
        conn.send_json({"got": value})


def test_handler_client_sends_and_receives_json():
    with HandlerClient(SockJS(json_echo)) as client:
        client.send_json([1, "é"], {"a": None})
        assert client.recv_json() == {"got": [1, "é"]}
        assert client.recv_json() == {"got": {"a": None}}
        client.send("not json")
        with pytest.raises(ValueError):  # what the handler's recv_json raised
            client.wait_closed()
        assert client.close_code == 1011


def test_handler_client_recv_json_is_none_once_closed():
    with HandlerClient(SockJS(lambda conn: conn.close())) as client:
        assert client.recv_json() is None


def test_stream_client_sends_and_receives_json():
    with MultiplexClient(SockJS(Multiplexer({"json": json_echo}))) as client:
        stream = client.subscribe("json")
        stream.send_json({"n": 1})
        assert stream.recv_json() == {"got": {"n": 1}}
        stream.close()
