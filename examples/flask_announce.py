from gevent import monkey

monkey.patch_all()  # first, before anything else is imported

# A view, a background job and a CLI command publish to the room /chat's handlers join:
#     python examples/flask_announce.py --port 5000
#     curl -d text=hello http://127.0.0.1:5000/announce
# With Redis (SOCKJS_GEVENT_REDIS_URL=redis://127.0.0.1:6379/0 for every worker) a publish reaches
# the room on every worker, and `flask --app examples/flask_announce.py announce hello` works too.

import argparse
import os
import time

import click
import gevent
from flask import Flask, request

from flask_sockjs import Connection, SockJS
from sockjs_gevent import channels

app = Flask(__name__)
sockjs = SockJS(app)


@sockjs.route("/chat")
def chat(conn: Connection) -> None:
    room = conn.channel("lobby")
    room.join(conn)
    conn.send("welcome to the lobby")
    for message in conn:
        room.publish(message, exclude=conn)


@app.post("/announce")
def announce() -> dict[str, int]:
    """A view: the posted text goes to everyone in /chat's lobby."""
    here = sockjs.publish("lobby", request.form["text"], route="/chat")
    return {"delivered_here": here}  # this process's members; with Redis, other workers' get it too


def clock() -> None:
    """A background job: the time, as JSON, every minute."""
    while True:
        sockjs.publish_json("lobby", {"time": time.strftime("%H:%M")}, route="/chat")
        gevent.sleep(60)


@app.cli.command("announce")
@click.argument("text")
def announce_command(text: str) -> None:
    """Send TEXT to /chat's lobby on the running servers (through Redis)."""
    if not os.environ.get("SOCKJS_GEVENT_REDIS_URL"):
        raise click.ClickException("set SOCKJS_GEVENT_REDIS_URL: only Redis carries a publish to the servers")
    sockjs.publish("lobby", text, route="/chat")
    if not channels.flush():  # before this process exits: the publish has left for Redis
        raise click.ClickException("Redis did not take the announcement")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=5000)
    gevent.spawn(clock)
    sockjs.run(app, port=parser.parse_args().port)
