"""What the Flask extension's tests build their apps from: an echo handler and a Flask app with a secret key."""

from flask import Flask


def echo(conn):
    for message in conn:
        conn.send(message)


def make_app(**config):
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", **config)
    return app
