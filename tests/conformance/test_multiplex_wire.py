"""docs/protocol.md section 12: multiplexed streams over a real server socket.

The test server's /multiplex service (sockjs_gevent.testserver.MULTIPLEX)
over the SockJS websocket, the raw websocket, and xhr-streaming with
xhr_send: exactly the bytes a websocket-multiplex client exchanges.
"""

import contextlib
import json
import urllib.request

import pytest
from websockets.sync.client import connect

from testkit.sockjshttp import new_sid, send
from testkit.sockjsstream import Receiver

PREFIX = "/multiplex"


def stats(server):
    with urllib.request.urlopen(server.url("/stats"), timeout=5) as response:
        return json.loads(response.read())[PREFIX]


class SockJSWebSocket:
    """A SockJS websocket session: sends JSON arrays, reads ``a[...]`` frames into messages."""

    def __init__(self, ws):
        self.ws = ws
        assert self.ws.recv(timeout=5) == "o"
        self.pending = []

    def send(self, *messages):
        self.ws.send(json.dumps(list(messages)))

    def recv(self):
        """The next message; a close frame comes back as itself (``c[...]``)."""
        while not self.pending:
            frame = self.ws.recv(timeout=5)
            if frame.startswith("c"):
                return frame
            if frame.startswith("a"):
                self.pending += json.loads(frame[1:])
        return self.pending.pop(0)

    def recv_by_stream(self, count):
        got = {}
        for _ in range(count):
            message = self.recv()
            got.setdefault(message.split(",", 2)[1], []).append(message)
        return got

    def close(self):
        self.ws.close()


@pytest.fixture
def session(server):
    with contextlib.ExitStack() as stack:

        def factory():
            url = f"ws://{server.host}:{server.port}{PREFIX}/000/{new_sid()}/websocket"
            return SockJSWebSocket(stack.enter_context(connect(url, open_timeout=5)))

        yield factory


def test_two_streams_over_one_sockjs_websocket(session):
    s = session()
    s.send("sub,echo", "sub,shout", "msg,echo,a,b,c", "msg,shout,quiet, please", "msg,echo,")
    assert s.recv_by_stream(3) == {
        "echo": ["msg,echo,a,b,c", "msg,echo,"],
        "shout": ["msg,shout,QUIET, PLEASE"],
    }


@pytest.mark.usefixtures("one_process")
def test_server_and_client_unsubscribe(session, server):
    s, listener = session(), session()
    listener.send("sub,events")
    assert listener.recv() == "msg,events,listening"
    s.send("sub,echo", "sub,shout", "msg,echo,tag t1", "msg,shout,tag t2")
    assert s.recv_by_stream(2) == {"echo": ["msg,echo,tag t1"], "shout": ["msg,shout,TAG T2"]}
    s.send("msg,echo,unsubscribe me")
    assert s.recv() == "uns,echo"
    assert listener.recv() == "msg,events,closed t1 echo 3000 Server unsubscribed"
    s.send("uns,shout")  # the client's unsubscribe gets no answer on the wire...
    assert listener.recv() == "msg,events,closed t2 shout 1000 Unsubscribed"  # ...but the handler saw it
    s.send("sub,echo", "msg,echo,again")  # a fresh stream under the freed name
    assert s.recv() == "msg,echo,again"


@pytest.mark.usefixtures("one_process")
def test_closing_the_sockjs_session_closes_every_stream(session):
    s, listener = session(), session()
    listener.send("sub,events")
    assert listener.recv() == "msg,events,listening"
    s.send("sub,echo", "sub,kick", "msg,echo,tag k1", "msg,kick,go")
    assert s.recv() == "msg,echo,tag k1"
    assert s.recv() == 'c[3001,"Kicked"]'
    assert listener.recv() == "msg,events,closed k1 echo 3001 Kicked"

    other = session()
    other.send("sub,echo", "msg,echo,tag k2")
    assert other.recv() == "msg,echo,tag k2"
    other.close()  # the browser goes away
    event = listener.recv()
    assert event.startswith("msg,events,closed k2 echo "), event


@pytest.mark.usefixtures("one_process")
def test_unknown_malformed_and_crashing_streams_leave_the_session_up(session, server):
    before = stats(server)["problems"]
    s = session()
    s.send("sub,nope", "hello", "msg,echo", "sub,echo", "sub,crash", "msg,crash,boom", "msg,echo,still here")
    got = [s.recv() for _ in range(3)]
    assert sorted(got) == ["msg,echo,still here", "uns,crash", "uns,nope"]
    after = stats(server)["problems"]
    for kind, grew in [("multiplex_unknown", 1), ("multiplex_malformed", 2), ("handler", 1)]:
        assert after.get(kind, 0) - before.get(kind, 0) == grew, (kind, before, after)


def test_streams_over_the_raw_websocket(server):
    with connect(f"ws://{server.host}:{server.port}{PREFIX}/websocket", open_timeout=5) as ws:
        ws.send("sub,whoami")
        facts = ws.recv(timeout=5)
        assert facts.startswith("msg,whoami,")
        assert json.loads(facts.split(",", 2)[2]) == {"name": "whoami", "transport": "raw-websocket", "path": PREFIX}
        ws.send("msg,whoami,a,b")
        assert ws.recv(timeout=5) == "msg,whoami,a,b"


def test_streams_over_xhr_streaming_and_xhr_send(server):
    sid = new_sid()
    with Receiver(server, PREFIX, sid, "xhr_streaming") as rx:
        assert rx.frame() == "o"
        send(server, PREFIX, sid, ["sub,whoami", "sub,shout"])
        facts = rx.messages(1)[0]
        assert json.loads(facts.split(",", 2)[2])["transport"] == "xhr-streaming"
        send(server, PREFIX, sid, ["msg,shout,over http", "msg,whoami,x,y"])
        assert sorted(rx.messages(2)) == ["msg,shout,OVER HTTP", "msg,whoami,x,y"]
        send(server, PREFIX, sid, ["uns,shout", "msg,shout,dropped", "msg,whoami,unsubscribe me"])
        assert rx.messages(1) == ["uns,whoami"]
