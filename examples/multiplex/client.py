from gevent import monkey

monkey.patch_all()

# Two streams of one SockJS connection, each consumed by its own greenlet.
#
#     python examples/multiplex/client.py                            # against a small server it starts itself
#     python examples/multiplex/client.py http://127.0.0.1:8080/mux  # against examples/multiplex/server.py

import sys
from typing import Any

import gevent

from sockjs_gevent import SockJS
from sockjs_gevent.client import MultiplexStream, connect_multiplex
from sockjs_gevent.multiplex import Multiplexer, Stream
from sockjs_gevent.server import build_server

# -- a stand-in for your server: the "ticker" and "shout" streams of examples/multiplex/server.py


def ticker(stream: Stream) -> None:
    """A tick every 0.2 s until the client unsubscribes."""
    n = 0
    while not stream.closed:
        stream.send(f"tick {n}")
        n += 1
        try:
            stream.recv(timeout=0.2)  # returns at once when the stream closes
        except TimeoutError:
            pass


def shout(stream: Stream) -> None:
    """Each message back in capitals."""
    for message in stream:
        stream.send(message.upper())


def start_demo_server() -> tuple[Any, str]:
    """The two streams at /mux on a free port of 127.0.0.1; (server, URL)."""
    service = SockJS(Multiplexer({"ticker": ticker, "shout": shout}), prefix="/mux")
    server = build_server(service, "127.0.0.1", 0)  # port 0: any free port
    server.start()
    return server, f"http://127.0.0.1:{server.server_port}/mux"


# -- the client


def watch(stream: MultiplexStream, count: int) -> list[str]:
    """Take ``count`` messages, then unsubscribe."""
    seen: list[str] = []
    for message in stream:  # ends when the server unsubscribes or the connection closes
        seen.append(message)
        if len(seen) == count:
            break
    stream.close()  # uns,NAME: the server's handler sees its stream close
    return seen


def talk(stream: MultiplexStream, words: list[str]) -> list[str]:
    """Send each word and wait for its answer."""
    answers: list[str] = []
    for word in words:
        stream.send(word)
        answer = stream.recv(timeout=5)  # TimeoutError if nothing comes within 5 s
        if answer is None:  # the server closed the stream (or the whole connection)
            break
        answers.append(answer)
    return answers


def main() -> None:
    server = None
    if len(sys.argv) > 1:
        url = sys.argv[1]
    else:
        server, url = start_demo_server()
    with connect_multiplex(url, transport="websocket") as mux:  # or "xhr-streaming", "xhr-polling", ...
        ticks = gevent.spawn(watch, mux.subscribe("ticker"), 3)
        answers = gevent.spawn(talk, mux.subscribe("shout"), ["hello", "multiplexed", "world"])
        gevent.joinall([ticks, answers], raise_error=True)
        print("ticker:", ticks.value)
        print("shout:", answers.value)
    # leaving the block closed the connection, and with it every stream
    if server is not None:
        server.stop()


if __name__ == "__main__":
    main()
