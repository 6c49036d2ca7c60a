"""flask_sockjs defects new users met (issue 24): each test failed before its fix."""

import logging

import pytest
from flask import Flask, session

from flask_sockjs import SockJS
from sockjs_gevent.multiplex.testing import MultiplexClient


def echo(conn):
    for message in conn:
        conn.send(message)


def room(conn):
    channel = conn.channel("room")
    channel.join(conn)
    for message in conn:
        channel.publish(message, exclude=conn)


def make_app(**config):
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", **config)
    return app


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
