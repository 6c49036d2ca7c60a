"""In-process channels: membership, one quote per publish, leaving on close."""

from unittest import mock

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
