"""A Flask app with a login cookie and a chat room over SockJS.

    python examples/flask_chat/app.py --port 5000     # then open http://127.0.0.1:5000/

Log in with any name (stored in Flask's signed session cookie); the chat
service refuses clients that are not logged in before their session opens.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # first: whatever a handler calls (HTTP, databases, sleep) must cooperate with gevent

import argparse
import os

from flask import Flask, redirect, render_template, request, send_file, session, url_for

from flask_sockjs import Connection, SockJS

HERE = os.path.dirname(os.path.abspath(__file__))
SOCKJS_CLIENT = os.path.join(HERE, "..", "..", "node_modules", "sockjs-client", "dist", "sockjs.min.js")

app = Flask(__name__)
app.config.update(
    SECRET_KEY=os.environ.get("CHAT_SECRET_KEY", "dev-only-secret"),
    SOCKJS_URL="/sockjs.min.js",
    # The chat trusts the session cookie, so only this app's own pages may
    # open chat sessions: another site's page would otherwise chat as the
    # logged-in user (cross-site WebSocket hijacking). List other origins
    # that serve the chat page here, e.g. ["https://chat.example.com"].
    SOCKJS_ALLOWED_ORIGINS=[],
)
sockjs = SockJS(app)
members: set[Connection] = set()


@app.get("/")
def index():
    if "user" not in session:
        return redirect(url_for("login"))
    return render_template("chat.html", user=session["user"])


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST" and request.form.get("name", "").strip():
        session["user"] = request.form["name"].strip()[:40]
        return redirect(url_for("index"))
    return render_template("login.html")


@app.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("login"))


@app.get("/sockjs.min.js")
def sockjs_client():
    return send_file(os.path.abspath(SOCKJS_CLIENT), mimetype="application/javascript")


@sockjs.before_open
def logged_in() -> bool:
    """Only logged-in users may open a chat session."""
    return "user" in session


@sockjs.route("/chat")
def chat(conn: Connection) -> None:
    user = session["user"]  # the opening request's Flask session
    members.add(conn)
    say(f"* {user} joined")
    try:
        for message in conn:
            say(f"{user}: {message[:2000]}")
    finally:
        members.discard(conn)
        say(f"* {user} left")


def say(text: str) -> None:
    for member in list(members):
        member.send(text)


if __name__ == "__main__":
    from sockjs_gevent.server import print_ready

    parser = argparse.ArgumentParser(description="Flask + SockJS chat example")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    sockjs.run(app, args.host, args.port, ready=print_ready)
