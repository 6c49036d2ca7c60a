"""flask_sockjs: construction, config, request context, refusals, blueprints, test client."""

import flask
import pytest
from flask import Blueprint, abort, session

from flask_sockjs import Refuse, SockJS
from tests.flask.flaskapps import echo, make_app


def test_direct_construction_mounts_routes_declared_after():
    app = make_app()
    sockjs = SockJS(app)
    sockjs.route("/echo")(echo)
    with sockjs.test_client(app, "/echo") as client:
        client.send("hi")
        assert client.recv() == "hi"


def test_factory_style_init_app_mounts_routes_declared_before():
    sockjs = SockJS()
    sockjs.route("/echo")(echo)
    app = make_app()
    sockjs.init_app(app)
    with sockjs.test_client(app, "/echo") as client:
        client.send("hi")
        assert client.recv() == "hi"


def test_flask_routes_keep_working_beside_sockjs_routes():
    app = make_app()
    sockjs = SockJS(app)
    app.get("/")(lambda: "home")
    sockjs.route("/echo")(echo)
    web = app.test_client()
    assert web.get("/").data == b"home"
    assert web.get("/echo").data == b"Welcome to SockJS!\n"
    assert web.get("/echo/info").json["websocket"] is True
    assert web.get("/missing").status_code == 404


def test_config_sets_defaults_and_route_options_override():
    app = make_app(SOCKJS_HEARTBEAT_DELAY=7.0, SOCKJS_DISCONNECT_DELAY=3.0, SOCKJS_URL="/static/sockjs.js")
    sockjs = SockJS(app)
    sockjs.route("/a")(echo)
    sockjs.route("/b", heartbeat_delay=1.5)(echo)
    a, b = sockjs.service(app, "/a").options, sockjs.service(app, "/b").options
    assert (a.heartbeat_delay, a.disconnect_delay, a.sockjs_url) == (7.0, 3.0, "/static/sockjs.js")
    assert (b.heartbeat_delay, b.disconnect_delay) == (1.5, 3.0)


def test_every_option_has_a_config_key():
    from dataclasses import fields

    from flask_sockjs.extension import CONFIG_KEYS
    from sockjs_gevent.options import Options

    assert sorted(CONFIG_KEYS.values()) == sorted(f.name for f in fields(Options) if f.name != "prefix")
    app = make_app(SOCKJS_MAX_QUEUED_BYTES=12345, SOCKJS_MAX_SESSIONS=7, SOCKJS_MAX_INBOX_BYTES=2 * 1024 * 1024)
    sockjs = SockJS(app)
    sockjs.route("/echo")(echo)
    options = sockjs.service(app, "/echo").options
    assert (options.max_queued_bytes, options.max_sessions, options.max_inbox_bytes) == (12345, 7, 2 * 1024 * 1024)


def test_websocket_compression_config_key():
    from sockjs_gevent import Compression

    app = make_app(SOCKJS_WEBSOCKET_COMPRESSION={"server_no_context_takeover": True})
    sockjs = SockJS(app)
    sockjs.route("/a")(echo)
    sockjs.route("/b", websocket_compression=False)(echo)
    assert sockjs.service(app, "/a").options.websocket_compression == Compression(server_no_context_takeover=True)
    assert sockjs.service(app, "/b").options.websocket_compression is None
    app = make_app(SOCKJS_WEBSOCKET_COMPRESSION={"server_max_window_bits": 8})
    with pytest.raises(ValueError, match="server_max_window_bits must be an int from 9 to 15"):
        SockJS(app).route("/c")(echo)


def test_a_handler_of_the_wrong_shape_fails_at_the_decorator():
    sockjs = SockJS()
    with pytest.raises(TypeError, match="must take exactly one argument"):
        sockjs.route("/x")(lambda: None)


def test_allowed_origins_config_guards_every_route():
    app = make_app(SOCKJS_ALLOWED_ORIGINS=["https://app.example"])
    sockjs = SockJS(app)
    sockjs.route("/echo")(echo)
    web = app.test_client()
    assert web.post("/echo/0/s1/xhr", headers={"Origin": "https://evil.example"}).status_code == 403
    assert web.post("/echo/0/s2/xhr", headers={"Origin": "https://app.example"}).data == b"o\n"


def test_bad_config_fails_when_the_route_is_mounted():
    app = make_app(SOCKJS_RESPONSE_LIMIT=-1)
    sockjs = SockJS(app)
    with pytest.raises(ValueError, match="response_limit"):
        sockjs.route("/echo")(echo)


def test_handler_runs_in_app_and_request_context():
    app = make_app()
    sockjs = SockJS(app)

    @sockjs.route("/ctx")
    def ctx(conn):
        conn.send(flask.current_app.name)
        conn.send(flask.request.cookies.get("flavour", "none"))
        conn.send(flask.request.path)

    with sockjs.test_client(app, "/ctx", cookies={"flavour": "mint"}) as client:
        assert [client.recv(), client.recv(), client.recv()] == [app.name, "mint", "/ctx"]


def login_cookie(app, user):
    web = app.test_client()
    web.post("/login", data={"user": user})
    return {"session": web.get_cookie("session").value}


def make_authenticated_app():
    app = make_app()

    @app.post("/login")
    def login():
        session["user"] = flask.request.form["user"]
        return "ok"

    sockjs = SockJS(app)

    @sockjs.before_open
    def logged_in():
        return "user" in session

    @sockjs.route("/private")
    def private(conn):
        conn.send("hello " + session["user"])

    return app, sockjs


def test_authenticated_handler_refuses_an_anonymous_client():
    app, sockjs = make_authenticated_app()
    with sockjs.test_client(app, "/private") as client:
        assert client.refused
        assert client.wait_closed() == (3003, "Forbidden")


def test_authenticated_handler_sees_the_logged_in_user():
    app, sockjs = make_authenticated_app()
    with sockjs.test_client(app, "/private", cookies=login_cookie(app, "ann")) as client:
        assert not client.refused
        assert client.recv() == "hello ann"


def test_route_hook_may_refuse_with_its_own_code_or_an_http_error():
    app = make_app()
    sockjs = SockJS(app)

    def needs_token(conn):
        if flask.request.cookies.get("token") != "secret":
            raise Refuse(4001, "Bad token")

    sockjs.route("/token", before_open=needs_token)(echo)
    sockjs.route("/http", before_open=lambda conn: abort(401))(echo)
    with sockjs.test_client(app, "/token") as client:
        assert client.wait_closed() == (4001, "Bad token")
    with sockjs.test_client(app, "/token", cookies={"token": "secret"}) as client:
        client.send("ok")
        assert client.recv() == "ok"
    with sockjs.test_client(app, "/http") as client:
        assert client.wait_closed() == (4401, "Unauthorized")


def test_blueprint_routes_live_under_the_blueprint_prefix():
    sockjs = SockJS()
    bp = Blueprint("rt", __name__)
    sockjs.route("/echo", blueprint=bp)(echo)
    app = make_app()
    sockjs.init_app(app)
    app.register_blueprint(bp, url_prefix="/rt")
    assert app.test_client().get("/rt/echo").data == b"Welcome to SockJS!\n"
    with sockjs.test_client(app, "/rt/echo") as client:
        client.send("x")
        assert client.recv() == "x"


def test_unknown_route_in_test_client_names_the_known_ones():
    app = make_app()
    sockjs = SockJS(app)
    sockjs.route("/echo")(echo)
    with pytest.raises(KeyError, match="/echo"):
        sockjs.test_client(app, "/nope")


def test_test_client_signs_a_logged_in_session_and_passes_query_and_cookies():
    app = make_app()
    sockjs = SockJS(app)

    @sockjs.before_open
    def logged_in():
        return "user" in session

    @sockjs.route("/chat")
    def chat(conn):
        conn.send(f"{session['user']} {flask.request.args.get('room')} {flask.request.cookies.get('theme')}")

    with sockjs.test_client(app, "/chat") as client:
        assert client.refused
    with sockjs.test_client(
        app, "/chat", session={"user": "ann"}, query_string="room=42", cookies={"theme": "dark"}
    ) as client:
        assert client.recv() == "ann 42 dark"


def test_test_client_takes_the_cookies_of_a_flask_client_that_logged_in():
    app = make_app()
    sockjs = SockJS(app)

    @app.post("/login")
    def login():
        session["user"] = flask.request.form["name"]
        return "ok"

    @sockjs.route("/chat", before_open=lambda: "user" in session)
    def chat(conn):
        conn.send("hello " + session["user"])

    web = app.test_client()
    web.post("/login", data={"name": "bob"})
    with sockjs.test_client(app, "/chat", flask_client=web) as client:
        assert client.recv() == "hello bob"


def test_flask_development_server_gets_a_clear_error_not_a_hang(caplog):
    """app.run() serves through Werkzeug's development server, which cannot hold SockJS sessions."""
    app = make_app()
    sockjs = SockJS(app)
    sockjs.route("/echo")(echo)
    web = app.test_client()
    dev_server = {"SERVER_SOFTWARE": "Werkzeug/3.1.3"}
    with caplog.at_level("ERROR", logger="sockjs_gevent"):
        for path in ("/echo/info", "/echo/0/s/xhr"):
            response = (
                web.post(path, environ_base=dev_server)
                if path.endswith("xhr")
                else web.get(path, environ_base=dev_server)
            )
            assert response.status_code == 500
            assert (
                b"cannot run on Werkzeug's development server" in response.data and b"sockjs.run(app)" in response.data
            )
    assert caplog.text.count("development server") == 1  # logged once, not per request
    assert web.get("/echo/info").status_code == 200  # under any other server
