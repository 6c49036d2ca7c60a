"""Publishing to a service's room from outside its handlers: SockJS.channel / publish / publish_json."""

import gevent
import pytest
from werkzeug.test import EnvironBuilder

from sockjs_gevent import SockJS, channels
from sockjs_gevent.multiplex import Multiplexer
from sockjs_gevent.multiplex.testing import MultiplexClient
from sockjs_gevent.testing import HandlerClient


def lobby_member(conn):
    """Joins this service's "lobby", says so, then echoes nothing: it only listens."""
    conn.channel("lobby").join(conn)
    conn.send("joined")
    for _ in conn:
        pass


def test_publish_reaches_every_member_of_the_room_its_handlers_joined_and_counts_them():
    service = SockJS(lobby_member, "/chat")
    with HandlerClient(service) as a, HandlerClient(service) as b:
        assert a.recv() == b.recv() == "joined"
        assert service.publish("lobby", "news") == 2
        assert a.recv() == b.recv() == "news"
        assert service.publish("lobby", "not for a", exclude=a.session.connection) == 1
        assert b.recv() == "not for a"
        with pytest.raises(TimeoutError):
            a.recv(timeout=0.05)
        assert service.publish("nobody-here", "lost") == 0


def test_publish_json_round_trips_through_recv_json():
    service = SockJS(lobby_member, "/chat")
    with HandlerClient(service) as client:
        assert client.recv() == "joined"
        assert service.publish_json("lobby", {"user": "ann", "tags": ["a", "ü"], "n": 1.5}) == 1
        assert client.recv_json() == {"user": "ann", "tags": ["a", "ü"], "n": 1.5}


def test_service_channel_is_the_handlers_conn_channel_and_services_stay_apart():
    chat, game = SockJS(lobby_member, "/chat"), SockJS(lobby_member, "/game")
    with HandlerClient(chat) as a, HandlerClient(game) as b:
        assert a.recv() == b.recv() == "joined"
        assert a.session.connection in chat.channel("lobby")
        assert len(chat.channel("lobby")) == len(game.channel("lobby")) == 1
        chat.publish("lobby", "chat only")
        assert a.recv() == "chat only"
        with pytest.raises(TimeoutError):
            b.recv(timeout=0.05)
        assert len(channels.channel("lobby")) == 0  # the unscoped, process-wide name is another channel


def test_a_service_at_the_root_publishes_to_its_rooms():
    service = SockJS(lobby_member)
    assert service.path == "/"
    with HandlerClient(service) as client:
        assert client.recv() == "joined"
        service.publish("lobby", "root")
        assert client.recv() == "root"


def test_rooms_are_the_same_when_the_app_is_mounted_under_a_script_name():
    """Under DispatcherMiddleware (SCRIPT_NAME=/mount) conn.path says /mount/chat; the room is still /chat's."""
    service = SockJS(lobby_member, "/chat")
    environ = EnvironBuilder(path="/chat/0/x/websocket", base_url="http://localhost/mount").get_environ()
    with HandlerClient(service, environ=environ) as client:
        assert client.recv() == "joined"
        assert client.session.connection.path == "/mount/chat"
        assert service.publish("lobby", "mounted") == 1
        assert client.recv() == "mounted"


def test_publish_reaches_multiplexed_streams_that_joined_the_room():
    def chat(stream):
        stream.channel("lobby").join(stream)
        for _ in stream:
            pass

    service = SockJS(Multiplexer({"chat": chat}), "/mux")
    with MultiplexClient(service) as client:
        stream = client.subscribe("chat")
        assert service.publish("lobby", "to streams") == 1
        assert stream.recv() == "to streams"


def test_a_background_greenlet_publishes():
    service = SockJS(lobby_member, "/chat")
    with HandlerClient(service) as client:
        assert client.recv() == "joined"
        job = gevent.spawn(lambda: [service.publish_json("lobby", {"tick": n}) for n in range(3)])
        assert [client.recv_json() for _ in range(3)] == [{"tick": 0}, {"tick": 1}, {"tick": 2}]
        assert job.get(timeout=1) == [1, 1, 1]


def test_text_that_is_not_str_says_to_use_publish_json():
    service = SockJS(lobby_member, "/chat")
    with pytest.raises(TypeError, match=r"publish\(\) takes str, got dict \(publish_json\(\) sends a value as JSON"):
        service.publish("lobby", {"a": 1})
    with pytest.raises(TypeError, match=r"takes str, got bytes"):
        channels.channel("lobby", scope="/chat").publish(b"raw")


def test_a_value_json_cannot_encode_says_what_to_pass():
    service = SockJS(lobby_member, "/chat")
    with pytest.raises(TypeError, match=r"cannot encode the value as JSON \(Object of type set .*list\(a_set\)"):
        service.publish_json("lobby", {"ids": {1, 2}})
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match=r"publish_json\(\) cannot encode the value as JSON \(Circular reference"):
        service.publish_json("lobby", loop)


def test_channel_publish_json_and_counts_on_a_hub_of_its_own():
    hub = channels.ChannelHub()

    def handler(conn):
        hub.channel("r").join(conn)
        for _ in conn:
            pass

    service = SockJS(handler)
    with HandlerClient(service) as a, HandlerClient(service) as b:
        room = hub.channel("r")
        assert room.publish_json([1, None, True], exclude=a.session.connection.id) == 1
        assert b.recv_json() == [1, None, True]


def test_flush_is_true_at_once_in_process():
    assert channels.ChannelHub().flush(0.01) is True
    assert channels.flush(0.01) is True
