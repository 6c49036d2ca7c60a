"""flask_sockjs: sockjs.multiplex(prefix) and @mux.stream(name)."""

import flask
import pytest
from flask import Blueprint, Flask, session

from flask_sockjs import MultiplexRoute, Refuse, SockJS
from sockjs_gevent.multiplex import Multiplexer
from sockjs_gevent.multiplex.testing import MultiplexClient


def echo(stream):
    for message in stream:
        stream.send(message)


def make_app():
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test")
    return app


def test_streams_declared_after_the_app_is_set_up_are_served():
    app = make_app()
    sockjs = SockJS(app)
    mux = sockjs.multiplex("/mux")
    assert isinstance(mux, MultiplexRoute)
    mux.stream("echo")(echo)
    with MultiplexClient(sockjs.test_client(app, "/mux")) as client:
        stream = client.subscribe("echo")
        stream.send("a,b")
        assert stream.recv() == "a,b"


def test_factory_style_init_app_serves_streams_declared_before():
    sockjs = SockJS()
    mux = sockjs.multiplex("/mux", max_streams=3, heartbeat_delay=4.0)
    mux.stream("echo")(echo)
    app = make_app()
    sockjs.init_app(app)
    service = sockjs.service(app, "/mux")
    assert isinstance(service.handler, Multiplexer)
    assert service.handler.max_streams == 3 and service.handler.names == ["echo"]
    assert service.options.heartbeat_delay == 4.0
    with MultiplexClient(sockjs.test_client(app, "/mux")) as client:
        stream = client.subscribe("echo")
        stream.send("x")
        assert stream.recv() == "x"


def test_stream_handlers_run_in_the_opening_requests_context():
    app = make_app()
    sockjs = SockJS(app)
    mux = sockjs.multiplex("/mux")

    @mux.stream("ctx")
    def ctx(stream):
        stream.send(flask.current_app.name)
        stream.send(flask.request.cookies.get("flavour", "none"))
        stream.send(flask.request.path)
        stream.send(session.get("user", "anonymous"))

    @mux.stream("other")
    def other(stream):
        stream.send("other sees " + session["user"])

    client = sockjs.test_client(app, "/mux", cookies={"flavour": "mint"}, session={"user": "ann"})
    with MultiplexClient(client) as mc:
        a, b = mc.subscribe("ctx"), mc.subscribe("other")
        assert [a.recv(), a.recv(), a.recv(), a.recv()] == [app.name, "mint", "/mux", "ann"]
        assert b.recv() == "other sees ann"
        a.wait_closed()  # the handlers returned: uns


def test_before_open_hooks_decide_for_the_whole_connection():
    app = make_app()
    sockjs = SockJS(app)
    started = []

    @sockjs.before_open
    def logged_in():
        return "user" in session

    def needs_token(conn):
        if flask.request.args.get("token") != "t":
            raise Refuse(4001, "Bad token")

    mux = sockjs.multiplex("/mux", before_open=needs_token)

    @mux.stream("s")
    def s(stream):
        started.append(stream)

    with sockjs.test_client(app, "/mux", query_string="token=t") as client:
        assert client.refused and client.wait_closed() == (3003, "Forbidden")
    with sockjs.test_client(app, "/mux", session={"user": "ann"}) as client:
        assert client.refused and client.wait_closed() == (4001, "Bad token")
    with MultiplexClient(sockjs.test_client(app, "/mux", session={"user": "ann"}, query_string="token=t")) as mc:
        mc.subscribe("s").wait_closed()
    assert len(started) == 1


def test_blueprint_multiplex_lives_under_the_blueprint_prefix():
    sockjs = SockJS()
    bp = Blueprint("bp", __name__)
    mux = sockjs.multiplex("/mux", blueprint=bp)
    app = make_app()
    sockjs.init_app(app)
    app.register_blueprint(bp, url_prefix="/bp")
    mux.stream("echo")(echo)  # after the blueprint was registered: still served
    assert app.test_client().get("/bp/mux").data == b"Welcome to SockJS!\n"
    with MultiplexClient(sockjs.test_client(app, "/bp/mux")) as client:
        stream = client.subscribe("echo")
        stream.send("x")
        assert stream.recv() == "x"


def test_one_route_serves_several_apps_each_in_its_own_context():
    sockjs = SockJS()
    mux = sockjs.multiplex("/mux")

    @mux.stream("name")
    def name(stream):
        stream.send(flask.current_app.name)

    first, second = Flask("first"), Flask("second")
    sockjs.init_app(first)
    sockjs.init_app(second)
    for app in (first, second):
        with MultiplexClient(sockjs.test_client(app, "/mux")) as client:
            assert client.subscribe("name").recv() == app.name


def test_mistakes_fail_at_the_decorator():
    sockjs = SockJS()
    mux = sockjs.multiplex("/mux")
    mux.stream("a")(echo)
    with pytest.raises(ValueError, match="already"):
        mux.stream("a")(echo)
    with pytest.raises(TypeError, match="stream handler"):
        mux.stream("b")(lambda: None)
    with pytest.raises(ValueError, match="max_streams"):
        sockjs.multiplex("/other", max_streams=0)
    assert mux.names == ["a"]
