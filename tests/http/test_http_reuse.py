"""Connection greenlets reused (``sockjs_gevent.http.reuse``): over real sockets, and the spawner's own rules."""

from __future__ import annotations

import contextvars
import gc
import weakref

import gevent
import pytest
from gevent import socket
from gevent.event import Event
from greenlet import getcurrent

from sockjs_gevent.http import HttpServer
from sockjs_gevent.http.reuse import DEFAULT_MAX_IDLE, ReusingSpawner
from tests.http.httpwire import Wire, settle

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def test_connections_one_after_another_share_one_greenlet_each_in_a_fresh_context(start_server):
    seen = []

    def app(environ, start_response):
        seen.append((getcurrent(), REQUEST_ID.get()))
        REQUEST_ID.set(environ["PATH_INFO"])  # what a fresh greenlet would not see on the next connection
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = start_server(app)
    assert isinstance(server.reuse, ReusingSpawner)
    for path in ("/a", "/b", "/c"):
        wire = Wire(server)
        wire.get(path)
        assert wire.response()[1] == b"ok"
        wire.close()
        settle(server)
    assert server.reuse.spawned == 1 and server.reuse.idle == 1
    assert len({greenlet for greenlet, _ in seen}) == 1
    assert [value for _, value in seen] == ["unset", "unset", "unset"]


def test_keep_alive_requests_of_one_connection_share_its_context(start_server):
    """Within one connection nothing changes: its requests run one after another in one context, as before."""
    seen = []

    def app(environ, start_response):
        seen.append(REQUEST_ID.get())
        REQUEST_ID.set(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = start_server(app)
    wire = Wire(server)
    for path in ("/a", "/b"):
        wire.get(path)
        assert wire.response()[1] == b"ok"
    wire.close()
    assert seen == ["unset", "/a"]


def test_concurrent_connections_get_their_own_greenlets_and_at_most_max_idle_are_kept(start_server):
    release = Event()
    inside = []

    def app(environ, start_response):
        inside.append(getcurrent())
        release.wait(5)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = HttpServer(("127.0.0.1", 0), app)
    server.reuse.max_idle = 2
    server.start()
    try:
        wires = [Wire(server) for _ in range(5)]
        for wire in wires:
            wire.get("/")
        while len(inside) < 5:
            gevent.sleep(0.001)
        assert len(set(inside)) == 5 and server.reuse.running == 5
        release.set()
        for wire in wires:
            assert wire.response()[1] == b"ok"
            wire.close()
        settle(server)
        assert server.reuse.idle == 2 and server.reuse.running == 0
        assert sum(not greenlet.dead for greenlet in inside) == 2  # the other three ended
    finally:
        server.stop(timeout=1)


def test_a_gevent_spawn_gives_each_connection_its_own_greenlet_again(start_server):
    seen = []

    def app(environ, start_response):
        seen.append(getcurrent())
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = start_server(app, spawn=gevent.spawn)
    assert server.reuse is None
    for _ in range(2):
        wire = Wire(server)
        wire.get("/")
        assert wire.response()[1] == b"ok"
        wire.close()
    gevent.joinall(seen, timeout=5)
    assert len(set(seen)) == 2 and all(isinstance(each, gevent.Greenlet) for each in seen)


def holding_app(seen: list[str], release: Event, free: str):
    """A WSGI app that notes each request's path and holds every one but ``free`` until ``release`` is set."""

    def app(environ, start_response):
        seen.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] != free:
            release.wait(5)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    return app


def limited_server(limit: int, free: str) -> tuple[HttpServer, list[str], Event]:
    """A started server of ``holding_app`` whose ReusingSpawner serves ``limit`` connections at most."""
    release = Event()
    seen: list[str] = []
    server = HttpServer(("127.0.0.1", 0), holding_app(seen, release, free), spawn=ReusingSpawner(limit=limit))
    server.start()
    return server, seen, release


def test_a_limit_pauses_accepting_while_full_and_resumes_when_one_ends():
    server, inside, release = limited_server(2, free="/third")
    try:
        first, second, third = Wire(server), Wire(server), Wire(server)
        first.get("/first")
        second.get("/second")
        while len(inside) < 2:
            gevent.sleep(0.001)
        third.get("/third")
        gevent.sleep(0.05)  # (time for the server to take the third, had it not paused)
        assert server.full() and len(inside) == 2
        release.set()
        for wire in (first, second, third):
            assert wire.response()[1] == b"ok"
            wire.close()
        assert inside[2] == "/third"
        settle(server)
    finally:
        server.stop(timeout=1)


def test_a_connection_handed_over_by_another_worker_waits_for_a_place_when_full():
    server, served, release = limited_server(1, free="/handed")
    try:
        holder = Wire(server)
        holder.get("/hold")
        while not served:
            gevent.sleep(0.001)
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        adopting = gevent.spawn(server.adopt, ours, ("127.0.0.1", 5555), b"GET /handed HTTP/1.1\r\nHost: t\r\n\r\n")
        gevent.sleep(0.05)  # (time to serve it, had it not waited)
        assert not adopting.dead and served == ["/hold"]  # the hand-off waits: backpressure to its sender
        release.set()
        assert holder.response()[1] == b"ok"
        assert not adopting.dead  # (a kept-alive connection still holds its place)
        holder.close()
        adopting.join(5)
        theirs.settimeout(5)
        answer = b""
        while not answer.endswith(b"ok"):
            answer += theirs.recv(1000)
        assert answer.startswith(b"HTTP/1.1 200 OK") and served == ["/hold", "/handed"]
        theirs.close()
        settle(server)
    finally:
        server.stop(timeout=1)


def test_stop_waits_for_the_connections_then_stops_them():
    stopped = []

    def app(environ, start_response):
        try:
            gevent.sleep(10)
        finally:
            stopped.append(environ["PATH_INFO"])
        return []

    server = HttpServer(("127.0.0.1", 0), app)
    server.start()
    wire = Wire(server)
    wire.get("/slow")
    while not server.reuse.running:
        gevent.sleep(0.001)
    server.stop(timeout=0.01)
    assert stopped == ["/slow"] and server.reuse.running == 0
    wire.close()


# -- the spawner alone -------------------------------------------------------------


def test_a_function_that_raises_is_reported_and_its_greenlet_serves_the_next(capsys):
    spawner = ReusingSpawner()
    ran = []

    def fails():
        ran.append(getcurrent())
        raise ValueError("boom in a connection")

    def works():
        ran.append(getcurrent())

    spawner(fails)
    assert spawner.join(5)
    spawner(works)
    assert spawner.join(5)
    assert len(ran) == 2 and ran[0] is ran[1] and spawner.spawned == 1
    assert "ValueError: boom in a connection" in capsys.readouterr().err
    spawner.clear()


def test_a_parked_greenlet_keeps_nothing_of_its_last_connection():
    spawner = ReusingSpawner()

    class Thing:
        pass

    thing = Thing()
    gone = weakref.ref(thing)
    spawner(lambda held: None, thing)
    del thing
    assert spawner.join(5)
    gc.collect()
    assert gone() is None and spawner.idle == 1
    spawner.clear()


def test_a_killed_greenlet_ends_instead_of_parking():
    spawner = ReusingSpawner()
    started = Event()
    workers = []

    def waits():
        workers.append(getcurrent())
        started.set()
        gevent.sleep(10)

    spawner(waits)
    assert started.wait(5)
    gevent.get_hub().loop.run_callback(workers[0].throw, gevent.GreenletExit)  # as gevent's kill does
    assert spawner.join(5)
    assert workers[0].dead and spawner.idle == 0 and spawner.running == 0 and spawner.join(0)


def test_clear_ends_the_parked_greenlets():
    spawner = ReusingSpawner()
    workers = []
    for _ in range(3):
        spawner(lambda: workers.append(getcurrent()))
    assert spawner.join(5) and spawner.idle == 3
    spawner.clear()
    gevent.sleep(0)
    assert spawner.idle == 0 and all(worker.dead for worker in workers)


def test_join_times_out_while_a_function_runs():
    spawner = ReusingSpawner()
    release = Event()
    spawner(release.wait)
    assert not spawner.join(0.01) and spawner.running == 1
    release.set()
    assert spawner.join(5) and spawner.running == 0
    spawner.clear()


def test_max_idle_zero_never_reuses():
    spawner = ReusingSpawner(max_idle=0)
    for _ in range(3):
        spawner(lambda: None)
        assert spawner.join(5)
    assert spawner.spawned == 3 and spawner.idle == 0


@pytest.mark.parametrize("bad", [-1, 1.5, "64", True, None])
def test_a_wrong_max_idle_is_refused_when_built(bad):
    with pytest.raises(ValueError, match="max_idle must be a whole number >= 0"):
        ReusingSpawner(max_idle=bad)


@pytest.mark.parametrize("bad", [0, -1, 2.0, "10", False])
def test_a_wrong_limit_is_refused_when_built(bad):
    with pytest.raises(ValueError, match="limit must be a whole number >= 1, or None"):
        ReusingSpawner(limit=bad)


def test_when_free_is_told_once_when_a_full_spawner_frees_a_place():
    spawner = ReusingSpawner(limit=1)
    release = Event()
    told = []
    spawner(release.wait)
    assert spawner.full()

    def note() -> None:
        told.append(1)

    spawner.when_free(note)
    spawner.when_free(note)  # (the same callback twice: told once)
    release.set()
    assert spawner.join(5) and told == [1] and not spawner.full()
    spawner(lambda: None)
    assert spawner.join(5) and told == [1]
    spawner.clear()


def test_kill_stops_the_running_functions_and_their_finally_blocks_run():
    spawner = ReusingSpawner()
    cleaned = []

    def waits(name):
        try:
            gevent.sleep(10)
        finally:
            cleaned.append(name)

    spawner(waits, "a")
    spawner(waits, "b")
    gevent.sleep(0)  # (both started)
    spawner(waits, "c")  # scheduled, not started: it starts, then is stopped
    assert spawner.kill(timeout=5)
    assert sorted(cleaned) == ["a", "b", "c"] and spawner.running == 0 and spawner.idle == 0


def test_the_default_bound():
    assert ReusingSpawner().max_idle == DEFAULT_MAX_IDLE
