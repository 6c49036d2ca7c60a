"""Attacks on memory: a client that sends faster than its handler reads, ping
floods, huge request heads. Memory is read from the server's /proc/PID/status."""

from __future__ import annotations

import json

import pytest

from testkit.rawhttp import request
from testkit.rawws import ws_connect_raw, ws_recv
from testkit.serverproc import poll_until
from testkit.sockjshttp import new_sid, session_path
from testkit.wsframe import encode
from tests.hostile.hostile import MIB, rss_mib, send_until_blocked, stats


@pytest.fixture
def tight(server_factory):
    """Short timers, so a dead client and a closed session are noticed at once."""
    return server_factory("--heartbeat-delay", "0.2", "--disconnect-delay", "0.3")


def test_websocket_to_a_handler_that_never_reads_is_held_back_by_tcp(server):
    """A stuck handler's inbox stops at max_inbox_bytes (4 MiB): the server
    stops reading and TCP pushes back on the client, instead of holding
    everything it sends (1.4 GB in the attack that found this)."""
    before = rss_mib(server)
    raw, _ = ws_connect_raw(server, f"/stubborn/000/{new_sid()}/websocket")
    with raw:
        assert ws_recv(raw) == (1, b"o")
        message = encode(json.dumps(["x" * (256 * 1024)]))
        sent = send_until_blocked(raw.sock, message, 200 * MIB)
        assert sent < 100 * MIB, "the server kept reading for a handler that never reads"
        taken = stats(server, "/stubborn")["messages_in"]
        assert taken <= 4 * MIB // (256 * 1024) + 2, taken  # the inbox bound, plus one read's worth
        grown = rss_mib(server) - before
        assert grown < 40, f"server grew {grown:.0f} MiB"


def test_websocket_backpressure_lets_a_slow_handler_catch_up_without_loss(server_factory):
    """Pausing reading loses nothing: a handler slower than the client gets every message in order."""
    slow = server_factory("--max-inbox-bytes", str(1024 * 1024))
    raw, _ = ws_connect_raw(slow, f"/echo/000/{new_sid()}/websocket")
    count, size = 200, 20_000  # 4 MB through a 1 MiB inbox
    with raw:
        assert ws_recv(raw) == (1, b"o")
        for i in range(count):
            raw.send(encode(json.dumps([f"{i:05d}" + "y" * size])))
        got: list[str] = []
        while len(got) < count:
            opcode, payload = ws_recv(raw, timeout=20)
            assert opcode == 1 and payload.startswith(b"a["), payload[:40]
            got += [m[:5] for m in json.loads(payload[1:])]
    assert got == [f"{i:05d}" for i in range(count)]


def test_a_vanished_client_of_a_stuck_handler_frees_its_inbox(tight):
    raw, _ = ws_connect_raw(tight, f"/stubborn/000/{new_sid()}/websocket")
    assert ws_recv(raw) == (1, b"o")
    send_until_blocked(raw.sock, encode(json.dumps(["z" * 100_000])), 100 * MIB)
    raw.abort()  # gone, while the server is not reading its socket
    # The heartbeat's write fails, the session closes, and disconnect_delay
    # later the messages the stuck handler never read are dropped.
    poll_until(lambda: stats(tight, "/stubborn")["problems"].get("inbox_dropped"), 10, "the inbox to be dropped")
    assert stats(tight, "/stubborn")["sessions_open"] == {}


def test_xhr_send_to_a_handler_that_never_reads_is_refused_once_the_inbox_is_full(server):
    sid = new_sid()
    assert request(server, "POST", session_path("/stubborn", sid, "xhr")).status == 200  # opens
    payload = json.dumps(["p" * (MIB - 16)]).encode()
    before = rss_mib(server)
    statuses = [request(server, "POST", session_path("/stubborn", sid, "xhr_send"), payload).status for _ in range(30)]
    assert statuses[:3] == [204, 204, 204], statuses
    assert statuses[-10:] == [503] * 10, statuses
    r = request(server, "POST", session_path("/stubborn", sid, "xhr_send"), payload)
    assert (r.status, r.body) == (503, b"Inbox full: the handler has not read what was sent before; send again later.")
    grown = rss_mib(server) - before
    assert grown < 40, f"server grew {grown:.0f} MiB"


def test_xhr_send_inbox_of_an_expired_session_is_dropped(tight):
    sid = new_sid()
    assert request(tight, "POST", session_path("/stubborn", sid, "xhr")).status == 200
    assert request(tight, "POST", session_path("/stubborn", sid, "xhr_send"), json.dumps(["q" * 1000])).status == 204
    # No request attached: the session expires after disconnect_delay, and
    # the unread message is dropped disconnect_delay after that.
    poll_until(lambda: stats(tight, "/stubborn")["problems"].get("inbox_dropped"), 10, "the inbox to be dropped")


def test_a_payload_of_many_empty_messages_costs_its_count(server):
    """349,000 empty strings in one 1 MiB body: each costs memory, so the
    payload is refused as more than an inbox holds (413), not taken free."""
    sid = new_sid()
    assert request(server, "POST", session_path("/echo", sid, "xhr")).status == 200
    body = ("[" + ",".join(['""'] * 349_000) + "]").encode()
    assert len(body) < MIB
    r = request(server, "POST", session_path("/echo", sid, "xhr_send"), body)
    assert r.status == 413 and b"messages take more than the inbox holds" in r.body


def test_ping_flood_from_a_client_that_never_reads_is_held_back(server):
    """Automatic pongs to a client that reads nothing pile up in the output
    buffer; past a high-water mark the server stops reading the pings."""
    before = rss_mib(server)
    raw, _ = ws_connect_raw(server, "/echo/websocket")
    with raw:
        raw.sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 4096)
        ping = encode(b"p" * 125, opcode=9) * 512
        sent = send_until_blocked(raw.sock, ping, 200 * MIB)
        assert sent < 100 * MIB, "the server kept answering pings nobody reads"
        grown = rss_mib(server) - before
        assert grown < 20, f"server grew {grown:.0f} MiB"
