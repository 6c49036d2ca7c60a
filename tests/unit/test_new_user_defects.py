"""Defects new users met (issue 24): each test failed before its fix."""

import gevent
import pytest

from sockjs_gevent import SockJS
from sockjs_gevent.multiplex import Multiplexer
from sockjs_gevent.multiplex.testing import MultiplexClient
from sockjs_gevent import testing
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
