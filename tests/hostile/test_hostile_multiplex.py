"""Attacks on a multiplexed service over a real socket: a stream that never
reads, more streams than allowed, garbage in place of the format."""

from __future__ import annotations

import contextlib
import json

from websockets.sync.client import connect

from testkit.sockjshttp import new_sid
from tests.hostile.hostile import MIB, rss_mib, stats

PREFIX = "/multiplex"


class Session:
    """A SockJS websocket session of /multiplex, message by message."""

    def __init__(self, server):
        self.url = f"ws://{server.host}:{server.port}{PREFIX}/000/{new_sid()}/websocket"
        self.stack = contextlib.ExitStack()
        self.pending: list[str] = []

    def send(self, *messages: str) -> None:
        self.ws.send(json.dumps(list(messages)))

    def recv(self, timeout: float = 10) -> str:
        while not self.pending:
            frame = self.ws.recv(timeout=timeout)
            assert not frame.startswith("c"), f"the session closed: {frame}"
            if frame.startswith("a"):
                self.pending += json.loads(frame[1:])
        return self.pending.pop(0)

    def __enter__(self) -> Session:
        self.ws = self.stack.enter_context(connect(self.url, open_timeout=5, max_size=None))
        assert self.ws.recv(timeout=5) == "o"
        return self

    def __exit__(self, *exc) -> None:
        self.stack.close()


def test_a_stream_that_never_reads_is_closed_once_its_inbox_is_full_and_the_others_go_on(server_factory):
    """max_inbox_bytes (1 MiB here) per stream: past it that stream gets uns,
    the connection is neither paused nor closed, and the server does not grow."""
    server = server_factory("--max-inbox-bytes", str(MIB))
    before = rss_mib(server)
    with Session(server) as s:
        s.send("sub,stubborn", "sub,echo")
        assert s.recv() == "msg,stubborn,stuck"
        chunk = "msg,stubborn," + "s" * (200 * 1024)
        for _ in range(40):  # 8 MB for a stream that holds 1 MiB
            s.send(chunk)
        assert s.recv() == "uns,stubborn"
        s.send("msg,echo,still served")
        assert s.recv() == "msg,echo,still served"
    assert stats(server, PREFIX)["problems"]["multiplex_inbox_full"] == 1
    assert rss_mib(server) - before < 40


def test_more_streams_than_max_streams_are_refused(server_factory):
    server = server_factory("--max-streams", "2")
    with Session(server) as s:
        s.send("sub,events", "sub,echo", "sub,shout", "sub,whoami")
        assert sorted([s.recv(), s.recv(), s.recv()]) == ["msg,events,listening", "uns,shout", "uns,whoami"]
        s.send("msg,echo,tag t", "uns,echo")
        assert s.recv() == "msg,events,closed t echo 1000 Unsubscribed"  # its handler has returned
        s.send("sub,shout", "msg,shout,a slot is free")
        assert s.recv() == "msg,shout,A SLOT IS FREE"
    assert stats(server, PREFIX)["problems"]["multiplex_limit"] == 2


def test_garbage_and_subscribe_churn_leave_the_session_serving(server_factory):
    server = server_factory()
    with Session(server) as s:
        s.send("sub,echo")
        garbage = ["", ",", ",,", "sub", "sub,", "msg,echo", "x" * 100_000, "uns,echo,x", "\x00,\x00,\x00"]
        churn = ["sub,shout", "uns,shout"] * 500 + ["sub,nope"] * 100
        s.send(*garbage, *churn, "msg,echo,after all that")
        got = []
        while not got or got[-1] != "msg,echo,after all that":  # the echo comes after every answer to the batch
            got.append(s.recv())
    # The handlers of unsubscribed shout streams had no turn to return within
    # the batch, so max_streams (16) refused most of the subs: each got uns.
    refused = got.count("uns,shout")
    assert got.count("uns,nope") == 100 and refused > 0 and len(got) == 100 + refused + 1
    problems = stats(server, PREFIX)["problems"]
    assert problems["multiplex_malformed"] == len(garbage)
    assert problems["multiplex_unknown"] == 100
    assert problems["multiplex_limit"] == refused
