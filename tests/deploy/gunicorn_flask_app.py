"""A Flask app with flask_sockjs, for gunicorn (``gunicorn_flask_app:app``): /hello and an echo service at /echo."""

from __future__ import annotations

from flask import Flask

from flask_sockjs import SockJS

app = Flask(__name__)
sockjs = SockJS(app)


@app.get("/hello")
def hello() -> str:
    return "hello from flask"


@sockjs.route("/echo")
def echo(conn) -> None:
    for message in conn:
        conn.send(message)
