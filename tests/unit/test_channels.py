"""In-process channels: membership, one quote per publish, leaving on close."""

from unittest import mock

import pytest

from sockjs_gevent import SockJS, protocol
from sockjs_gevent.channels import ChannelHub
from sockjs_gevent.testing import HandlerClient


def member_service(hub, name="room"):
    def handler(conn):
        room = hub.channel(name)
        room.join(conn)
        conn.send("joined")
        for message in conn:
            room.publish(message)

    return SockJS(handler)


def test_publish_reaches_every_member_in_order():
    hub = ChannelHub()
    service = member_service(hub)
    with HandlerClient(service) as a, HandlerClient(service) as b:
        assert a.recv() == b.recv() == "joined"
        a.send("1", "2")
        assert [a.recv(), a.recv()] == ["1", "2"]
        assert [b.recv(), b.recv()] == ["1", "2"]
        assert len(hub.channel("room")) == 2


def test_publish_quotes_once_for_all_members():
    hub = ChannelHub()
    service = member_service(hub)
    clients = [HandlerClient(service) for _ in range(5)]
    for client in clients:
        assert client.recv() == "joined"
    with mock.patch("sockjs_gevent.channels.hub.protocol.quote", wraps=protocol.quote) as quote:
        hub.channel("room").publish("hello")
    assert quote.call_count == 1
    assert all(client.recv() == "hello" for client in clients)
    for client in clients:
        client.close()


def test_closed_connection_leaves_its_channels():
    hub = ChannelHub()
    service = member_service(hub)
    a = HandlerClient(service)
    assert a.recv() == "joined"
    assert len(hub.channel("room")) == 1
    a.close()
    assert len(hub.channel("room")) == 0
    assert list(hub.channels()) == []


def test_members_lists_local_connections_and_leave_works():
    hub = ChannelHub()
    seen = []

    def handler(conn):
        room = hub.channel("r")
        room.join(conn)
        seen.append(conn in room)
        room.leave(conn)
        seen.append(conn in room)

    with HandlerClient(SockJS(handler)) as client:
        client.wait_closed()
    assert seen == [True, False]


def test_publish_can_skip_the_sender():
    hub = ChannelHub()

    def handler(conn):
        room = hub.channel("r")
        room.join(conn)
        conn.send("joined")
        for message in conn:
            room.publish(message, exclude=conn)

    service = SockJS(handler)
    with HandlerClient(service) as a, HandlerClient(service) as b:
        assert a.recv() == b.recv() == "joined"
        a.send("from a")
        assert b.recv() == "from a"
        with pytest.raises(TimeoutError):
            a.recv(timeout=0.05)


def test_send_to_reaches_one_connection_by_id_and_rooms_of_lists_its_channels():
    hub = ChannelHub()
    ids = {}

    def handler(conn):
        hub.channel("one").join(conn)
        hub.channel("two").join(conn)
        ids[conn.recv()] = conn
        conn.send(",".join(hub.rooms_of(conn)))
        for message in conn:
            conn.send(message)

    service = SockJS(handler)
    with HandlerClient(service) as a, HandlerClient(service) as b:
        a.send("a")
        b.send("b")
        assert a.recv() == b.recv() == "one,two"
        hub.send_to(ids["b"].id, "just for b")
        assert b.recv() == "just for b"
        with pytest.raises(TimeoutError):
            a.recv(timeout=0.05)
        b.close()
        assert hub.rooms_of(ids["b"]) == []
        hub.send_to(ids["b"].id, "gone")  # nothing, no error
        hub.send_to("no-such-id", "nobody")


def test_services_have_separate_channel_names_through_conn_channel():
    from sockjs_gevent import channels

    def handler(conn):
        room = conn.channel("lobby")
        room.join(conn)
        conn.send(str(len(room)))
        for message in conn:
            room.publish(message)

    chat, game = SockJS(handler, "/chat"), SockJS(handler, "/game")
    with HandlerClient(chat) as a, HandlerClient(game) as b:
        assert a.recv() == "1" and b.recv() == "1"  # not each other's lobby
        a.send("chat only")
        assert a.recv() == "chat only"
        with pytest.raises(TimeoutError):
            b.recv(timeout=0.05)
        assert channels.rooms_of(a.session.connection) == ["lobby"]


def test_redis_backend_is_importable_from_channels():
    from sockjs_gevent.channels import RedisBackend  # noqa: F401
