"""flask_sockjs: decorate Flask functions as SockJS handlers, served by gevent.

from flask import Flask
from flask_sockjs import SockJS

app = Flask(__name__)
sockjs = SockJS(app)

@sockjs.route("/echo")
def echo(conn):
    for message in conn:
        conn.send(message)

sockjs.run(app, port=5000)
"""

from sockjs_gevent import Connection, Refuse

from .extension import CONFIG_KEYS, MultiplexRoute, SockJS

__all__ = ["SockJS", "Connection", "Refuse", "CONFIG_KEYS", "MultiplexRoute"]
