"""flask_sockjs defects new users met (issue 24): each test failed before its fix."""

import logging

import pytest
from flask import session

from flask_sockjs import SockJS
from sockjs_gevent.multiplex.testing import MultiplexClient
from tests.flask.flaskapps import echo, make_app


def room(conn):
    channel = conn.channel("room")
    channel.join(conn)
    for message in conn:
        channel.publish(message, exclude=conn)


# -- 1. test clients return once the handler waits ------------------------------


def test_two_test_clients_of_one_route_hear_each_other_at_once():
    app = make_app()
    sockjs = SockJS(app)
    sockjs.route("/room")(room)
    with sockjs.test_client(app, "/room") as a, sockjs.test_client(app, "/room") as b:
        a.send("hi")
        assert b.recv(timeout=1) == "hi"


def test_two_multiplex_test_clients_hear_each_other_at_once():
    app = make_app()
    sockjs = SockJS(app)
    sockjs.multiplex("/mux").stream("chat")(room)
    with MultiplexClient(sockjs.test_client(app, "/mux")) as a, MultiplexClient(sockjs.test_client(app, "/mux")) as b:
        chat_a, chat_b = a.subscribe("chat"), b.subscribe("chat")
        chat_a.send("hi")
        assert chat_b.recv(timeout=1) == "hi"


# -- 2. a second extension on one app -------------------------------------------


def test_a_second_extension_on_the_same_app_serves_its_routes_too():
    app = make_app()
    first, second = SockJS(app), SockJS(app)
    first.route("/a")(echo)
    second.route("/b")(echo)
    web = app.test_client()
    assert web.get("/a").data == b"Welcome to SockJS!\n"
    assert web.get("/b").data == b"Welcome to SockJS!\n"
    with second.test_client(app, "/b") as client:
        client.send("hi")
        assert client.recv() == "hi"


def test_a_second_extension_set_up_later_with_init_app_serves_routes_declared_before():
    app = make_app()
    first = SockJS(app)
    first.route("/a")(echo)
    second = SockJS()
    second.route("/b")(echo)
    second.init_app(app)
    second.init_app(app)  # twice is once
    assert app.test_client().get("/b").data == b"Welcome to SockJS!\n"
    assert sorted(s.prefix for s in app.extensions["sockjs"].router.services) == ["/a", "/b"]


def test_each_extension_keeps_its_own_before_open_hooks():
    app = make_app(SOCKJS_ALLOWED_ORIGINS="*")
    open_one, closed_one = SockJS(app), SockJS(app)
    open_one.route("/open")(echo)
    closed_one.route("/closed")(echo)
    closed_one.before_open(lambda: False)
    with open_one.test_client(app, "/open") as client:
        assert not client.refused
    with closed_one.test_client(app, "/closed") as client:
        assert client.refused


def test_two_extensions_may_not_mount_the_same_prefix():
    app = make_app()
    SockJS(app).route("/a")(echo)
    with pytest.raises(ValueError, match="/a"):
        SockJS(app).route("/a")(echo)


def test_a_second_extension_used_through_a_blueprint_is_set_up_on_the_app():
    from flask import Blueprint

    app = make_app()
    SockJS(app).route("/a")(echo)
    second = SockJS()
    bp = Blueprint("chat", __name__, url_prefix="/chat")
    second.route("/room", blueprint=bp)(echo)
    second.route("/plain")(echo)
    app.register_blueprint(bp)
    web = app.test_client()
    assert web.get("/chat/room").data == b"Welcome to SockJS!\n"
    assert web.get("/plain").data == b"Welcome to SockJS!\n"


# -- 5. the origins warning only for routes that authenticate ----------------------

WARNING = "authenticates in before_open but lets every web page in"


def test_a_plain_route_logs_no_origins_warning(caplog):
    with caplog.at_level(logging.WARNING):
        app = make_app()
        sockjs = SockJS(app)
        sockjs.route("/plain")(echo)
        sockjs.multiplex("/mux")
    assert WARNING not in caplog.text


def test_a_route_with_its_own_hook_and_default_origins_warns_once(caplog):
    with caplog.at_level(logging.WARNING):
        app = make_app()
        sockjs = SockJS(app)
        sockjs.route("/plain")(echo)
        sockjs.route("/private", before_open=lambda: "user" in session)(echo)
    assert caplog.text.count(WARNING) == 1
    assert "'/private'" in caplog.text and "SOCKJS_ALLOWED_ORIGINS" in caplog.text


def test_an_extension_hook_warns_for_each_route_with_default_origins_before_or_after(caplog):
    with caplog.at_level(logging.WARNING):
        app = make_app()
        sockjs = SockJS(app)
        sockjs.route("/early")(echo)
        sockjs.route("/guarded", allowed_origins=[])(echo)
        sockjs.before_open(lambda: "user" in session)
        sockjs.route("/late")(echo)
        sockjs.before_open(lambda: True)  # a second hook says nothing new
    assert caplog.text.count(WARNING) == 2
    assert "'/early'" in caplog.text and "'/late'" in caplog.text and "/guarded" not in caplog.text


def test_origins_from_config_or_given_as_star_silence_the_warning(caplog):
    with caplog.at_level(logging.WARNING):
        app = make_app(SOCKJS_ALLOWED_ORIGINS="*")
        sockjs = SockJS(app)
        sockjs.before_open(lambda: True)
        sockjs.route("/a")(echo)
        other = SockJS(make_app())
        other.route("/b", before_open=lambda: True, allowed_origins="*")(echo)
    assert WARNING not in caplog.text


def test_default_origins_still_let_every_page_in():
    app = make_app()
    sockjs = SockJS(app)
    sockjs.route("/plain")(echo)
    assert sockjs.service(app, "/plain").options.allowed_origins == "*"
    assert app.test_client().get("/plain/info", headers={"Origin": "https://elsewhere.example"}).status_code == 200


# -- 7. misspelled config keys ------------------------------------------------------


def test_a_misspelled_config_key_is_one_warning_naming_the_close_match(caplog):
    with caplog.at_level(logging.WARNING, logger="sockjs_gevent"):
        SockJS(make_app(SOCKJS_HEARBEAT_DELAY=5, SOCKJS_MAX_BUFERED_BYTES=1 << 30, SOCKJS_NOTHING_LIKE_IT=1))
    lines = [r.getMessage() for r in caplog.records if "SOCKJS_HEARBEAT_DELAY" in r.getMessage()]
    assert len(lines) == 1 and len(caplog.records) == 1
    assert "SOCKJS_HEARBEAT_DELAY (did you mean SOCKJS_HEARTBEAT_DELAY?)" in lines[0]
    assert "SOCKJS_MAX_BUFERED_BYTES (did you mean SOCKJS_MAX_BUFFERED_BYTES?)" in lines[0]
    assert "SOCKJS_NOTHING_LIKE_IT" in lines[0]


def test_known_keys_and_sockjs_gevent_environment_names_do_not_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="sockjs_gevent"):
        app = make_app(
            SOCKJS_HEARTBEAT_DELAY=5,
            SOCKJS_URL="/sockjs.js",
            SOCKJS_ALLOWED_ORIGINS=[],
            SOCKJS_MAX_BUFFERED_BYTES=None,
            SOCKJS_GEVENT_REDIS_URL="redis://localhost:6379/0",
            SOCKJS_GEVENT_MAX_BUFFERED_BYTES="1g",
        )
        SockJS(app)
        SockJS(app)  # a second extension on the app says nothing more either
    assert caplog.records == []


def test_a_second_extension_does_not_repeat_the_warning(caplog):
    app = make_app(SOCKJS_HEARBEAT_DELAY=5)
    with caplog.at_level(logging.WARNING, logger="sockjs_gevent"):
        SockJS(app)
        SockJS(app)
    assert len(caplog.records) == 1
