"""What websocket_compression costs and saves: wire bytes, server CPU and RSS per session.

    .venv/bin/python bench/compression.py [--messages 20000] [--sessions 2000] [--connections 20] [--rate 3000]

For each setting (off; on with context takeover, the defaults; on without
context takeover; on with zlib's largest windows), starts
``python -m sockjs_gevent examples.echo:echo`` with that
``--websocket-compression`` pinned to core 0, and from this process (core
1, raw sockets and websockets' sans-I/O client, which offers
permessage-deflate as browsers do) measures:

- a 1 KB JSON message and a 64 B one echoed over the SockJS websocket
  (``--connections`` sessions, one message in flight each; every message
  different, as real traffic is): WebSocket frame bytes per message each
  way (TCP/IP headers not counted), and server CPU per echoed message
  (utime+stime from /proc over the run, divided by the messages);
- RSS growth per idle session over ``--sessions`` sessions: just opened,
  then after one 1 KB message each way (zlib state is touched by then);
- the engine alone, in this process with no I/O: microseconds per echo
  (a client frame in, an ``a[...]`` frame out), the WebSocket layer's own
  cost, steady whatever else the machine does.

The generator is Python, so it sends at a fixed ``--rate`` (3,000 messages
a second by default, the same for every setting) well under what it or the
server can do: the figure to read is the server's CPU per message at that
rate. The generator's own CPU share (it must stay well under 100%), the
rate reached and the cores other processes kept busy meanwhile are printed
beside each run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass

from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Opcode
from websockets.uri import parse_uri

sys.path.insert(
    0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)  # the repository root, for `python bench/compression.py`

from bench.lib.procs import pin_to_client_core, raise_nofile_limit, start_pinned
from testkit.serverproc import RunningServer

SETTINGS = [
    ("off", []),
    ("on, context takeover (defaults)", ["--websocket-compression"]),
    ("on, no context takeover", ["--websocket-compression", "server_no_context_takeover,client_no_context_takeover"]),
    (
        "on, 15-bit windows, mem_level 8",
        ["--websocket-compression", "server_max_window_bits=15,client_max_window_bits=15,mem_level=8"],
    ),
]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WORDS = (
    "order shipped pending refund customer invoice warehouse express standard priority gift wrap "
    "delivered returned payment card paypal voucher discount total subtotal tax"
).split()


def json_messages(count: int, size: int, seed: int = 1) -> list[str]:
    """``count`` different JSON documents of about ``size`` bytes: the same keys, varying values."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        if size <= 64:
            doc = {
                "seq": n,
                "sym": rng.choice(["AAPL", "MSFT", "GOOG", "AMZN"]),
                "px": round(rng.uniform(10, 500), 2),
                "qty": rng.randrange(1, 1000),
            }
        else:
            doc = {
                "id": 100000 + n,
                "user": {"id": rng.randrange(10**6), "name": rng.choice(["ann", "bob", "cy", "di"])},
                "status": rng.choice(WORDS),
                "items": [],
            }
            while len(json.dumps(doc, separators=(",", ":"))) < size - 120:
                doc["items"].append(
                    {
                        "sku": f"SKU-{rng.randrange(10**5):05d}",
                        "qty": rng.randrange(1, 9),
                        "price": round(rng.uniform(1, 200), 2),
                        "note": " ".join(rng.sample(WORDS, 2)),
                    }
                )
        doc["memo"] = ""
        room = size - len(json.dumps(doc, separators=(",", ":")))
        doc["memo"] = " ".join(rng.choice(WORDS) for _ in range(room))[:room]  # exactly ``size`` bytes
        out.append(json.dumps(doc, separators=(",", ":")))
    return out


class Session:
    """One SockJS websocket session on a blocking socket, spoken through websockets' sans-I/O client."""

    def __init__(self, port: int, index: int, sources: int) -> None:
        self.protocol = ClientProtocol(
            parse_uri(f"ws://127.0.0.1:{port}/echo/000/b{index}/websocket"),
            extensions=[ClientPerMessageDeflateFactory()],
            max_size=None,
        )
        self.sock = socket.socket()
        self.sock.bind((f"127.0.0.{2 + index % sources}", 0))
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sent = self.received = 0
        self.protocol.send_request(self.protocol.connect())
        self.flush()

    def flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.sock.sendall(chunk)
                self.sent += len(chunk)

    def send(self, message: str) -> None:
        self.protocol.send_text(json.dumps([message]).encode())
        self.flush()

    def read(self) -> list[str]:
        """What one recv brought: the SockJS frames (``o``, ``a[...]``, ``h``)."""
        data = self.sock.recv(262144)
        if not data:
            raise ConnectionError("the server closed a session")
        self.received += len(data)
        self.protocol.receive_data(data)
        frames = [e.data.decode() for e in self.protocol.events_received() if getattr(e, "opcode", None) is Opcode.TEXT]
        self.flush()
        return frames

    def wait_for(self, prefix: str) -> str:
        while True:
            for frame in self.read():
                if frame.startswith(prefix):
                    return frame

    @property
    def compressed(self) -> bool:
        return bool(self.protocol.extensions)


def machine_busy() -> float:
    """Seconds of CPU the whole machine has been busy (all cores, from /proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def server_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class EchoRun:
    up: float  # frame bytes per message, client to server
    down: float  # frame bytes per message, server to client
    server_us: float  # server CPU per echoed message
    rate: float  # messages per second
    generator_share: float  # this process's CPU over the wall time
    other_cores: float  # cores busy with other processes meanwhile (noise)


def echo_run(server: RunningServer, messages: list[str], connections: int, count: int, rate: float) -> EchoRun:
    sessions = [Session(server.port, i, 1) for i in range(connections)]
    for s in sessions:
        s.wait_for("o")
    selector = selectors.DefaultSelector()
    for s in sessions:
        selector.register(s.sock, selectors.EVENT_READ, s)

    def run(total: int) -> None:
        """Echo ``total`` messages, sent no faster than ``rate`` per second, one in flight per session."""
        ready = deque(sessions)  # sessions with no message in flight
        sent = done = 0
        start = time.monotonic()
        while done < total:
            while ready and sent < total and time.monotonic() >= start + sent / rate:
                ready.popleft().send(messages[sent % len(messages)])
                sent += 1
            timeout = max(0.0, start + sent / rate - time.monotonic()) if ready and sent < total else None
            for key, _ in selector.select(timeout):
                s = key.data
                for frame in s.read():
                    if frame.startswith("a"):
                        done += len(json.loads(frame[1:]))
                        ready.append(s)

    run(min(2000, count))  # warm-up (and the extension's first allocations)
    for s in sessions:
        s.sent = s.received = 0
    cpu0, mine0, wall0, busy0 = server_cpu(server.pid), time.process_time(), time.monotonic(), machine_busy()
    run(count)
    cpu1, mine1, wall1, busy1 = server_cpu(server.pid), time.process_time(), time.monotonic(), machine_busy()
    up = sum(s.sent for s in sessions) / count
    down = sum(s.received for s in sessions) / count
    assert all(s.compressed for s in sessions) or not any(s.compressed for s in sessions)
    for s in sessions:
        selector.unregister(s.sock)
        s.sock.close()
    wall = wall1 - wall0
    others = max(0.0, (busy1 - busy0) - (cpu1 - cpu0) - (mine1 - mine0)) / wall
    return EchoRun(up, down, (cpu1 - cpu0) / count * 1e6, count / wall, (mine1 - mine0) / wall, others)


def engine_alone(flags: list[str], messages: list[str], rounds: int = 5) -> float:
    """Microseconds per echo in the engine alone, in this process: a client frame in, an ``a[...]`` frame out.

    No sockets, no event loop, no session: what the WebSocket layer itself
    costs per message (with compression: the protocol's parser, zlib both ways).
    """
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    from sockjs_gevent.compression import Compression
    from sockjs_gevent.websocket import Engine

    settings = Compression.parse(flags[1] if len(flags) > 1 else "") if flags else None
    client = ClientProtocol(
        parse_uri("ws://127.0.0.1/echo/000/e/websocket"), extensions=[ClientPerMessageDeflateFactory()], max_size=None
    )
    request = client.connect()
    client.send_request(request)
    server = ServerProtocol(state=State.OPEN, extensions=[settings.server_factory()] if settings else None)
    client.receive_data(server.accept(request).serialize())
    client.data_to_send()
    engine = Engine(server)
    frames = []
    for message in messages:
        client.send_text(json.dumps([message]).encode())
        frames.append(b"".join(client.data_to_send()))
    started = time.perf_counter()
    for _ in range(rounds):
        for frame in frames:
            engine.send_texts(["a" + json.dumps(engine.feed(frame))])
            engine.output()
    return (time.perf_counter() - started) / (rounds * len(frames)) * 1e6


def idle_rss(server: RunningServer, count: int, message: str) -> tuple[float, float, bool]:
    """KiB of server RSS per session: just opened, then after one message each way."""
    sources = max(1, count // 20000 + 1)
    base = server.rss_kb()
    sessions = [Session(server.port, 100000 + i, sources) for i in range(count)]
    for s in sessions:
        s.wait_for("o")
    opened = server.rss_kb()
    for s in sessions:
        s.send(message)
    for s in sessions:
        s.wait_for("a")
    after = server.rss_kb()
    compressed = sessions[0].compressed
    for s in sessions:
        s.sock.close()
    return (opened - base) / count, (after - base) / count, compressed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000, help="echoed messages per measured run")
    parser.add_argument("--sessions", type=int, default=2000, help="idle sessions for the RSS figure")
    parser.add_argument("--connections", type=int, default=20, help="sessions echoing at once")
    parser.add_argument(
        "--rate", type=float, default=3000, help="messages per second sent (the same for every setting)"
    )
    args = parser.parse_args()
    raise_nofile_limit()
    pin_to_client_core()
    big, small = json_messages(1000, 1024), json_messages(1000, 64)
    print(
        f'messages: {sum(map(len, big)) / len(big):.0f} B JSON (SockJS frame a["..."] '
        f"{sum(len(json.dumps([m])) + 1 for m in big) / len(big):.0f} B), "
        f"{sum(map(len, small)) / len(small):.0f} B JSON (frame "
        f"{sum(len(json.dumps([m])) + 1 for m in small) / len(small):.0f} B); {os.cpu_count()} CPUs"
    )
    rows: dict[str, list[str]] = {}
    for name, flags in SETTINGS:
        command = [
            "-m",
            "sockjs_gevent",
            "examples.echo:echo",
            "--prefix",
            "/echo",
            "--port",
            "0",
            "--heartbeat-delay",
            "3600",
            "--log-level",
            "WARNING",
            *flags,
        ]
        with start_pinned(command) as server:
            one_kb = echo_run(server, big, args.connections, args.messages, args.rate)
            tiny = echo_run(server, small, args.connections, args.messages, args.rate)
            opened, after, compressed = idle_rss(server, args.sessions, big[0])
        alone = engine_alone(flags, big), engine_alone(flags, small)
        print(f"\n{name}: compressed={compressed}")
        for label, run, engine_us in (("1 KB", one_kb, alone[0]), ("64 B", tiny, alone[1])):
            print(
                f"  {label}: {run.down:.0f} B down, {run.up:.0f} B up per message; server {run.server_us:.1f} us CPU "
                f"per message ({engine_us:.1f} us of it the engine alone); {run.rate:,.0f} msg/s; generator CPU "
                f"{run.generator_share:.0%} of its core; other processes {run.other_cores:.2f} cores"
            )
        print(f"  RSS per idle session: {opened:.1f} KiB opened, {after:.1f} KiB after one 1 KB message each way")
        rows[name] = [
            f"{one_kb.down:.0f} / {one_kb.up:.0f}",
            f"{one_kb.server_us:.0f} ({alone[0]:.0f})",
            f"{tiny.down:.0f} / {tiny.up:.0f}",
            f"{tiny.server_us:.0f} ({alone[1]:.0f})",
            f"{opened:.1f}",
            f"{after:.1f}",
        ]
    labels = [
        "1 KB JSON: frame bytes per message, down / up",
        "1 KB JSON: server CPU per echo, us (engine alone)",
        "64 B JSON: frame bytes per message, down / up",
        "64 B JSON: server CPU per echo, us (engine alone)",
        f"RSS per idle session ({args.sessions:,}), just opened, KiB",
        "RSS per idle session after one 1 KB message each way, KiB",
    ]
    print("\n| | " + " | ".join(rows) + " |")
    print("|---" * (len(rows) + 1) + "|")
    for i, label in enumerate(labels):
        print(f"| {label} | " + " | ".join(values[i] for values in rows.values()) + " |")


if __name__ == "__main__":
    main()
