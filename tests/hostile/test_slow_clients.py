"""Slow clients (slowloris) cannot hold connections: the head has one deadline,
the body a minimum rate. Servers here use --request-timeout 1."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from testkit.rawhttp import request
from testkit.sockjshttp import alive, new_sid, session_path


@pytest.fixture
def strict(server_factory):
    return server_factory("--request-timeout", "1")


def dribble(server, data: bytes, interval: float, results: list, index: int) -> None:
    """Send ``data`` a byte at a time, ``interval`` s apart; record when the server cut us off."""
    started = time.monotonic()
    sent = 0
    try:
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            for byte in data:
                sock.sendall(bytes([byte]))
                sent += 1
                # Pace the attack (not waiting for state): the server cuts in.
                ready = socket_readable(sock, interval)
                if ready:
                    if sock.recv(65536) == b"":
                        break
    except OSError:
        pass
    results[index] = (sent, time.monotonic() - started)


def socket_readable(sock: socket.socket, timeout: float) -> bool:
    import select

    readable, _, _ = select.select([sock], [], [], timeout)
    return bool(readable)


def test_a_head_sent_a_byte_at_a_time_is_cut_off_at_the_deadline(strict):
    head = b"GET /echo/info HTTP/1.1\r\nHost: t\r\n" + b"X-Slow: " + b"s" * 200 + b"\r\n\r\n"
    results: list = [None]
    dribble(strict, head, 0.1, results, 0)
    sent, elapsed = results[0]
    assert sent < len(head), "the whole head went through: no deadline"
    assert elapsed < 5, elapsed  # 1 s deadline; every byte came well within the per-read timeout


def test_many_dribbling_clients_are_all_cut_off_and_others_are_served(strict):
    head = b"GET /echo/info HTTP/1.1\r\nHost: t\r\n" + b"X-Slow: " + b"s" * 200 + b"\r\n\r\n"
    results: list = [None] * 60
    threads = [threading.Thread(target=dribble, args=(strict, head, 0.2, results, i)) for i in range(60)]
    for t in threads:
        t.start()
    alive(strict)  # answered while they dribble
    for t in threads:
        t.join(30)
    assert all(r is not None and r[0] < len(head) for r in results), results


def test_a_body_below_the_minimum_rate_is_cut_off(strict):
    sid = new_sid()
    assert request(strict, "POST", session_path("/echo", sid, "xhr")).status == 200
    body = b'["' + b"x" * 200_000 + b'"]'
    with socket.create_connection((strict.host, strict.port), timeout=10) as sock:
        sock.sendall(
            f"POST /echo/000/{sid}/xhr_send HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        started = time.monotonic()
        sent = 0
        answer = b""
        while sent < len(body):
            sock.sendall(body[sent : sent + 500])  # 500 bytes per 0.1 s: 5 KB/s, below 16 KiB/s
            sent += 500
            if socket_readable(sock, 0.1):
                answer = sock.recv(65536)
                break
        elapsed = time.monotonic() - started
    assert sent < len(body), "the slow body was read to the end"
    assert answer.startswith(b"HTTP/1.1 408 ") or answer == b"", answer[:100]
    assert elapsed < 10, elapsed
    alive(strict)


def test_an_idle_keep_alive_connection_is_closed(strict):
    from testkit.rawhttp import Raw

    with Raw(strict, timeout=10) as raw:
        raw.send_request("GET", "/echo/info")
        assert raw.read_head().status == 200
        raw.read_body()
        started = time.monotonic()
        assert raw.wait_closed(timeout=10) == b""  # the server closed the idle connection
        assert time.monotonic() - started < 5
