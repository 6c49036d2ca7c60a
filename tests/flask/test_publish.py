"""flask_sockjs: sockjs.publish / publish_json from a view, a CLI command, a background greenlet, and across workers."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import urllib.parse

import click
import gevent
import pytest
from flask import Blueprint, request
from websockets.sync.client import connect

from flask_sockjs import SockJS
from sockjs_gevent.multiplex.testing import MultiplexClient
from testkit.rawhttp import http
from testkit.serverproc import ROOT, start_server
from tests.cluster.clusterproc import RedisServer
from tests.flask.flaskapps import make_app

EXAMPLE = "examples/flask_announce.py"


def lobby(conn):
    """Joins the route's "lobby", says so (then it is a member), and listens."""
    conn.channel("lobby").join(conn)
    conn.send("joined")
    for _ in conn:
        pass


def chat_app(**routes):
    """An app whose /chat sessions join "lobby", and a POST /announce view that publishes the form's text there."""
    app = make_app()
    sockjs = SockJS(app)
    sockjs.route("/chat")(lobby)

    @app.post("/announce")
    def announce():
        return {"delivered": sockjs.publish("lobby", request.form["text"], route="/chat")}

    @app.post("/announce.json")
    def announce_json():
        return {"delivered": sockjs.publish_json("lobby", request.get_json(), route="/chat")}

    return app, sockjs


def joined(client):
    assert client.recv() == "joined"
    return client


def test_a_view_publishes_to_every_session_in_the_room():
    app, sockjs = chat_app()
    with sockjs.test_client(app, "/chat") as a, sockjs.test_client(app, "/chat") as b:
        joined(a), joined(b)
        response = app.test_client().post("/announce", data={"text": "the doors open at 9"})
        assert response.json == {"delivered": 2}
        assert a.recv() == b.recv() == "the doors open at 9"


def test_publish_json_from_a_view_round_trips_through_recv_json():
    app, sockjs = chat_app()
    value = {"event": "score", "teams": ["ann", "bob"], "points": [3, 1], "final": False, "note": None}
    with sockjs.test_client(app, "/chat") as a, sockjs.test_client(app, "/chat") as b:
        joined(a), joined(b)
        assert app.test_client().post("/announce.json", json=value).json == {"delivered": 2}
        assert a.recv_json() == b.recv_json() == value


def test_a_background_greenlet_publishes_without_an_app_context():
    app, sockjs = chat_app()

    def job():
        return [sockjs.publish_json("lobby", {"tick": n}) for n in range(3)]  # the app's only route: no route=

    with sockjs.test_client(app, "/chat") as client:
        joined(client)
        greenlet = gevent.spawn(job)
        assert [client.recv_json() for _ in range(3)] == [{"tick": 0}, {"tick": 1}, {"tick": 2}]
        assert greenlet.get(timeout=1) == [1, 1, 1]


def test_a_cli_command_publishes():
    app, sockjs = chat_app()

    @app.cli.command("announce")
    @click.argument("text")
    def announce(text):
        click.echo(sockjs.publish("lobby", text, route="/chat"))

    with sockjs.test_client(app, "/chat") as client:
        joined(client)
        result = app.test_cli_runner().invoke(args=["announce", "from the shell"])
        assert result.exit_code == 0 and result.output == "1\n", result.output
        assert client.recv() == "from the shell"


def test_exclude_skips_one_session_by_its_id():
    app, sockjs = chat_app()
    ids = []

    @sockjs.route("/room")
    def room(conn):
        ids.append(conn.id)
        lobby(conn)

    with sockjs.test_client(app, "/room") as a, sockjs.test_client(app, "/room") as b:
        joined(a), joined(b)
        assert sockjs.publish("lobby", "not for a", route="/room", exclude=ids[0]) == 1
        assert b.recv() == "not for a"
        with pytest.raises(TimeoutError):
            a.recv(timeout=0.05)


def test_routes_have_their_own_rooms_and_a_blueprint_route_is_named_with_its_url_prefix():
    app, sockjs = chat_app()
    bp = Blueprint("api", __name__)
    sockjs.route("/chat", blueprint=bp)(lobby)
    app.register_blueprint(bp, url_prefix="/api")
    with sockjs.test_client(app, "/chat") as plain, sockjs.test_client(app, "/api/chat") as api:
        joined(plain), joined(api)
        assert sockjs.publish("lobby", "api only", route="/api/chat") == 1
        assert api.recv() == "api only"
        with pytest.raises(TimeoutError):
            plain.recv(timeout=0.05)


def test_a_multiplexed_route_publishes_to_the_streams_in_the_room():
    app = make_app()
    sockjs = SockJS(app)
    mux = sockjs.multiplex("/mux")

    @mux.stream("chat")
    def chat(stream):
        stream.channel("lobby").join(stream)
        for _ in stream:
            pass

    with MultiplexClient(sockjs.test_client(app, "/mux")) as client:
        stream = client.subscribe("chat")
        assert sockjs.publish("lobby", "to the streams") == 1
        assert stream.recv() == "to the streams"


def test_a_factory_extension_publishes_once_init_app_has_run():
    sockjs = SockJS()
    sockjs.route("/chat")(lobby)
    with pytest.raises(
        RuntimeError,
        match=r"sockjs.publish\(\) before the extension is set up on a Flask app: "
        r"create it with SockJS\(app\), or call sockjs.init_app\(app\) first",
    ):
        sockjs.publish("lobby", "too early", route="/chat")
    app = make_app()
    sockjs.init_app(app)
    with sockjs.test_client(app, "/chat") as client:
        joined(client)
        assert sockjs.publish("lobby", "now") == 1
        assert client.recv() == "now"


# -- mistakes: each says what to write -------------------------------------------


def test_an_unknown_route_names_the_registered_ones_and_the_close_match():
    app, sockjs = chat_app()
    sockjs.route("/game")(lobby)
    with pytest.raises(
        ValueError,
        match=r"^no SockJS route '/caht' in this app \(its routes: /chat, /game\): "
        r"did you mean sockjs.publish\(room, text, route='/chat'\)\?$",
    ):
        sockjs.publish("lobby", "x", route="/caht")
    with pytest.raises(
        ValueError,
        match=r"its routes: /chat, /game\): did you mean "
        r"sockjs.publish_json\(room, value, route='/chat'\)",
    ):
        sockjs.publish_json("lobby", 1, route="chat")
    with pytest.raises(
        ValueError, match=r"^no SockJS route '/nothing-like-it' in this app \(its routes: /chat, /game\)$"
    ):
        sockjs.publish("lobby", "x", route="/nothing-like-it")


def test_leaving_out_route_with_several_routes_says_to_name_one():
    app, sockjs = chat_app()
    sockjs.route("/game")(lobby)
    with pytest.raises(
        TypeError,
        match=r"sockjs.publish\(\) needs route= when the app has several SockJS routes "
        r"\(/chat, /game\): sockjs.publish\(room, text, route='/chat'\)",
    ):
        sockjs.publish("lobby", "which one?")


def test_a_route_that_is_not_a_path_is_a_type_error():
    app, sockjs = chat_app()
    with pytest.raises(
        TypeError,
        match=r"route is a SockJS route's path, e.g. sockjs.publish\(room, text, "
        r"route='/chat'\), got <function lobby",
    ):
        sockjs.publish("lobby", "x", route=lobby)


def test_publishing_before_the_route_is_registered_says_to_register_it():
    app = make_app()
    sockjs = SockJS(app)
    with pytest.raises(
        ValueError,
        match=r"no SockJS route '/chat' yet: register it with @sockjs.route\('/chat'\) "
        r"before sockjs.publish\(\) publishes to its rooms",
    ):
        sockjs.publish("lobby", "x", route="/chat")
    with pytest.raises(
        ValueError,
        match=r"sockjs.publish_json\(\) before any SockJS route is registered: register "
        r"the route first \(@sockjs.route\('/chat'\) on its handler\), then "
        r"sockjs.publish_json\(room, value, route='/chat'\)",
    ):
        sockjs.publish_json("lobby", {})
    sockjs.route("/chat")(lobby)
    assert sockjs.publish("lobby", "now it exists", route="/chat") == 0  # nobody in the room: delivered to none


def test_text_that_is_not_str_says_to_use_publish_json():
    app, sockjs = chat_app()
    with pytest.raises(
        TypeError,
        match=r"channel messages are text: publish\(\) takes str, got dict "
        r"\(publish_json\(\) sends a value as JSON text\)",
    ):
        sockjs.publish("lobby", {"text": "hi"}, route="/chat")
    with pytest.raises(TypeError, match=r"takes str, got bytes"):
        sockjs.publish("lobby", b"hi")


def test_a_value_publish_json_cannot_encode_says_what_to_pass():
    app, sockjs = chat_app()
    with pytest.raises(
        TypeError,
        match=r"^publish_json\(\) cannot encode the value as JSON \(Object of type datetime "
        r"is not JSON serializable\): give it dicts, lists, str, numbers, booleans "
        r"and None \(e.g. list\(a_set\), a_datetime.isoformat\(\)\)",
    ):
        import datetime

        sockjs.publish_json("lobby", {"at": datetime.datetime(2026, 1, 1)}, route="/chat")


# -- across workers, through a real Redis ---------------------------------------------

needs_redis = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server (scripts/apt-packages.txt)"
)


@pytest.fixture
def redis_url():
    redis = RedisServer()
    redis.start()
    yield redis.url
    redis.stop()


@pytest.fixture
def two_workers(redis_url):
    """examples/flask_announce.py served twice, each process subscribed to the same Redis before it listens."""
    env = {"SOCKJS_GEVENT_REDIS_URL": redis_url}
    started = []
    try:
        for _ in range(2):
            started.append(start_server(["-m", "sockjs_gevent", f"{EXAMPLE}:app", "--port", "0"], env=env))
        yield started
    finally:
        for server in started:
            server.stop()
    for server in started:
        assert "Traceback" not in server.log(), server.log()


@contextlib.contextmanager
def lobby_session(server, session_id):
    """A websocket session of /chat on ``server``, given once its handler has joined the lobby (it said welcome)."""
    with connect(f"ws://{server.host}:{server.port}/chat/000/{session_id}/websocket", open_timeout=10) as ws:
        assert ws.recv(timeout=10) == "o"
        assert ws.recv(timeout=10) == 'a["welcome to the lobby"]'
        yield ws


def announce_over_http(server, text):
    """POST /announce to ``server``: the example view's JSON answer."""
    status, body, _ = http(
        server,
        "POST",
        "/announce",
        urllib.parse.urlencode({"text": text}),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200, body
    return json.loads(body)


def test_the_example_run_as_a_program_publishes_from_its_view():
    server = start_server([EXAMPLE, "--port", "0"])
    try:
        with lobby_session(server, "one") as session:
            assert announce_over_http(server, "in one process") == {"delivered_here": 1}
            assert session.recv(timeout=10) == 'a["in one process"]'
    finally:
        server.stop()
    assert "Traceback" not in server.log(), server.log()


@needs_redis
def test_a_view_on_one_worker_reaches_a_session_on_another_through_redis(two_workers):
    first, second = two_workers
    with lobby_session(second, "far") as far:
        # nobody on the first worker: the second gets it through Redis
        assert announce_over_http(first, "across workers") == {"delivered_here": 0}
        assert far.recv(timeout=10) == 'a["across workers"]'


@needs_redis
def test_a_cli_command_reaches_a_session_on_a_server_through_redis(two_workers, redis_url):
    """A short-lived process publishes and exits: channels.flush() makes sure the publish left first."""
    with lobby_session(two_workers[0], "cli") as session:
        env = dict(os.environ, SOCKJS_GEVENT_REDIS_URL=redis_url, PYTHONPATH=ROOT)
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", EXAMPLE, "announce", "from the shell"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert session.recv(timeout=10) == 'a["from the shell"]'
