"""One process of bench/channels.py: a worker holding channel members, or a publisher.

    .venv/bin/python -m bench.channels_worker --role worker --mode pattern --url redis://127.0.0.1:6379/0 --index 0
    .venv/bin/python -m bench.channels_worker --role publisher --mode pattern --url redis://... --index 0

bench/channels.py starts these; they are not meant to be run by hand.
Both build the process-wide hub with ``channels.configure(backend)``, the
backend being the mode's (``backend_for``: the one place a mode becomes a
backend class and its keywords), and wait for ``backend.connected``.

A worker holds ``--per-worker`` channels, ``ch{(index * per_worker + k) %
channels}`` for k < per_worker (a contiguous block: worker 0 ch0-ch9,
worker 1 ch10-ch19...; no two workers share a channel while workers *
per_worker <= channels), with ``--members`` fake members in each. A member
counts what the hub hands it and the latency of each delivery (from the
wall-clock time the publisher stamped in the message, ``time.time()`` on
both sides: one machine, one clock).

A publisher holds no member and publishes through
``hub.channel(name).publish(text)``, round-robin over every channel. A
message is ``PHASE:PUBLISHER:CHANNEL:SEQ:TIME`` (about 35 bytes): SEQ
counts the publisher's publishes to that channel, so a worker can tell
each message's deliveries apart (lost, duplicated), TIME is
``time.time()`` as publish() was called.

Protocol: one JSON object per line. This process prints
``{"ready": ...}`` once connected, then reads commands on stdin and
answers each with one line:

- ``{"cmd": "reset", "phase": P}`` (worker): count only messages of phase P
  from now on, zero the counters, start the window (bytes, CPU);
- ``{"cmd": "collect", "published": [[n per channel] per publisher]}``
  (worker): wait until every expected delivery arrived (or none came for
  ``idle`` s), end the window, answer the figures;
- ``{"cmd": "probe"}`` (publisher): publish a warm-up message to every
  channel; a worker prints ``{"warm": true}`` once each of its channels
  has had one (so the subscriptions are live);
- ``{"cmd": "run", "phase": P, "seconds": S, "rate": R}`` (publisher):
  publish for S seconds, R publishes/s paced, or as fast as it can with
  R = 0 (at most ``WINDOW`` batches waiting for the backend's writer,
  through ``hub.flush``, so nothing is dropped for a full queue); then
  ``channels.flush()``, and answer what it published per channel;
- ``{"cmd": "quit"}``.

Bytes received are counted by the kernel: the sum of
``tcpi_bytes_received`` (TCP_INFO) over this process's TCP sockets. Its
only TCP sockets are its Redis connections (commands come on a pipe), so
that is what Redis sent it. A connection opened during the window counts
whole; one closed during it is reported (``tcp_closed``), its bytes being
lost. (``/proc/self/io`` rchar would not do: a socket's ``recv`` is not
counted there.)
"""

# ruff: noqa: E402 (gevent monkey-patches before anything else is imported)

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse
import json
import math
import os
import resource
import socket
import struct
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Any

import gevent
from gevent.event import Event
from gevent.fileobject import FileObjectPosix

from sockjs_gevent import channels

#: mode -> (the backend class, its keywords besides the URL).
MODES: dict[str, tuple[Callable[..., channels.Backend], dict[str, Any]]] = {
    "pattern": (channels.RedisBackend, {"subscribe": "pattern"}),  # PSUBSCRIBE sockjs:* (every publish, every worker)
    "channel": (channels.RedisBackend, {"subscribe": "channel"}),  # SUBSCRIBE per channel with local members
    "cluster": (channels.RedisClusterBackend, {}),  # SPUBLISH / SSUBSCRIBE on a Redis Cluster
}

#: Publishes per batch at full speed, and batches that may wait for the backend's writer.
BATCH = 500
WINDOW = 2
#: Offset of tcpi_bytes_received (u64) in Linux's struct tcp_info (since 4.1).
TCPI_BYTES_RECEIVED = 128
TCP_INFO_SIZE = 136
#: Latency histogram buckets: 2 % wide, from 1 us (bench/channels.py reads them so).
BUCKET_BASE = 1.02
BUCKET_FLOOR = 1e-6


def backend_for(mode: str, url: str) -> channels.Backend:
    """The backend of ``mode`` on ``url``."""
    backend, keywords = MODES[mode]
    return backend(url, **keywords)


def channel_name(index: int) -> str:
    return f"ch{index}"


def say(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def tcp_bytes_received() -> dict[str, int]:
    """Bytes received so far on each of this process's open TCP sockets (by inode), from the kernel."""
    received: dict[str, int] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{name}")
            if not link.startswith("socket:"):
                continue
            probe = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue  # closed meanwhile (the listing's own fd)
        try:
            if probe.type != socket.SOCK_STREAM or probe.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            info = probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE)
        except OSError:
            continue
        finally:
            probe.close()
        if len(info) >= TCPI_BYTES_RECEIVED + 8:
            received[link] = struct.unpack_from("=Q", info, TCPI_BYTES_RECEIVED)[0]
    return received


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Window:
    """Bytes received and CPU used from ``start()`` to ``end()``."""

    def __init__(self) -> None:
        self.start()

    def start(self) -> None:
        self.received0 = tcp_bytes_received()
        self.cpu0 = cpu_seconds()

    def end(self) -> dict[str, Any]:
        """The window's figures; a connection opened meanwhile counts whole, one closed meanwhile is missing."""
        received = tcp_bytes_received()
        return {
            "bytes_received": sum(n - self.received0.get(sock, 0) for sock, n in received.items()),
            "tcp_opened": len(received.keys() - self.received0.keys()),
            "tcp_closed": len(self.received0.keys() - received.keys()),
            "cpu_s": round(cpu_seconds() - self.cpu0, 3),
        }


# -- worker --------------------------------------------------------------------


class Recorder:
    """Deliveries to this worker's members in the current phase: counts per message, latencies."""

    def __init__(self, mine: list[int]) -> None:
        self.mine = mine
        self.phase = ""
        self.warm_left = set(mine)
        self.warm = Event()
        self.reset("")

    def reset(self, phase: str) -> None:
        self.phase = phase
        self.counts: dict[tuple[int, int, int], list[int]] = {}  # (publisher, channel, seq) -> [deliveries]
        self.latencies: list[float] = []
        self.delivered = 0
        self.stale = 0  # deliveries of messages of another phase
        self.expected = -1  # unknown until collect
        self.done = Event()
        self.first = 0.0
        self.last = 0.0
        self._message: str | None = None
        self._entry: list[int] | None = None
        self._sent = 0.0

    def deliver(self, message: str) -> None:
        """One member got ``message`` (the hub hands every member the same string object)."""
        now = time.time()
        if message is not self._message:
            self._message = message
            phase, publisher, chan, seq, sent = message.split(":")
            if phase != self.phase:
                self._entry = None
                if phase == "w":
                    self._warmed(int(chan))
            else:
                key = (int(publisher), int(chan), int(seq))
                entry = self.counts.get(key)
                if entry is None:
                    entry = self.counts[key] = [0]
                self._entry = entry
                self._sent = float(sent)
                if not self.first:
                    self.first = now
        entry = self._entry
        if entry is None:
            self.stale += 1
            return
        entry[0] += 1
        self.latencies.append(now - self._sent)
        self.delivered += 1
        self.last = now
        if self.delivered == self.expected:
            self.done.set()

    def _warmed(self, chan: int) -> None:
        self.warm_left.discard(chan)
        if not self.warm_left and not self.warm.is_set():
            self.warm.set()
            say(warm=True)

    def collect(self, published: list[list[int]], members: int, idle: float) -> dict[str, Any]:
        """Wait for every delivery ``published`` implies (or ``idle`` s without one); the figures."""
        self.expected = members * sum(counts[c] for counts in published for c in self.mine)
        if self.delivered >= self.expected:
            self.done.set()
        while True:
            before = self.delivered
            if self.done.wait(idle) or self.delivered == before:
                break
        lost = duplicated = 0
        for publisher, counts in enumerate(published):
            for chan in self.mine:
                for seq in range(counts[chan]):
                    entry = self.counts.get((publisher, chan, seq))
                    got = entry[0] if entry else 0
                    lost += max(0, members - got)
                    duplicated += max(0, got - members)
        known = {(p, c, s) for p, counts in enumerate(published) for c in self.mine for s in range(counts[c])}
        unexpected = sum(entry[0] for key, entry in self.counts.items() if key not in known)
        ordered = sorted(self.latencies)
        histogram = Counter(int(math.log(max(lat, BUCKET_FLOOR) / BUCKET_FLOOR, BUCKET_BASE)) for lat in ordered)

        def ms(p: float) -> float | None:
            if not ordered:
                return None
            return round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 3)

        return {
            "deliveries": self.delivered,
            "expected": self.expected,
            "lost": lost,
            "duplicated": duplicated,
            "unexpected": unexpected,
            "stale": self.stale,
            "latency_ms": {"p50": ms(50), "p90": ms(90), "p99": ms(99), "max": ms(100)},
            "histogram": {str(bucket): n for bucket, n in sorted(histogram.items())},
            "channels": self.mine,
            "first": self.first,
            "last": self.last,
        }


class FakeMember:
    """What the hub needs of a member (sockjs_gevent.channels.Member); it records each delivery."""

    __slots__ = ("id", "closed", "_record")

    def __init__(self, member_id: str, record: Callable[[str], None]) -> None:
        self.id = member_id
        self.closed = False
        self._record = record

    def on_close(self, callback: Callable[[Any], object]) -> None:
        pass  # never closes

    def send_quoted(self, message: str, quoted: str) -> bool:
        self._record(message)
        return True


def run_worker(args: argparse.Namespace, hub: channels.ChannelHub, commands: FileObjectPosix[Any, bytes]) -> None:
    mine = [(args.index * args.per_worker + k) % args.channels for k in range(args.per_worker)]
    recorder = Recorder(sorted(set(mine)))
    for chan in recorder.mine:
        room = hub.channel(channel_name(chan))
        for m in range(args.members):
            room.join(FakeMember(f"w{args.index}-c{chan}-m{m}", recorder.deliver))
    wait_connected(hub)
    say(ready=True, role="worker", pid=os.getpid(), channels=[channel_name(c) for c in recorder.mine])
    window = Window()
    for command in read_commands(commands):
        cmd = command["cmd"]
        if cmd == "reset":
            recorder.reset(command["phase"])
            window.start()
            say(ok=True)
        elif cmd == "collect":
            figures = recorder.collect(command["published"], args.members, command.get("idle", 2.0))
            say(**figures, **window.end())
        else:
            raise ValueError(f"unknown command {cmd!r}")


# -- publisher -----------------------------------------------------------------


def run_publisher(args: argparse.Namespace, hub: channels.ChannelHub, commands: FileObjectPosix[Any, bytes]) -> None:
    rooms = [hub.channel(channel_name(c)) for c in range(args.channels)]
    wait_connected(hub)
    say(ready=True, role="publisher", pid=os.getpid())
    for command in read_commands(commands):
        cmd = command["cmd"]
        if cmd == "probe":
            for chan, room in enumerate(rooms):
                room.publish(f"w:{args.index}:{chan}:0:{time.time()!r}")
            say(flushed=hub.flush(10.0))
        elif cmd == "run":
            say(**publish(hub, rooms, args.index, command["phase"], command["seconds"], command["rate"]))
        else:
            raise ValueError(f"unknown command {cmd!r}")


def publish(
    hub: channels.ChannelHub, rooms: list[channels.Channel], me: int, phase: str, seconds: float, rate: float
) -> dict[str, Any]:
    """Publish round-robin over ``rooms`` for ``seconds``: paced at ``rate``/s, or as fast as we can (0)."""
    window = Window()
    n = len(rooms)
    counts = [0] * n
    chan = (me * 37) % n  # publishers start at different channels
    dropped0 = getattr(hub.backend, "dropped", 0)
    unflushed = 0
    clock = time.time
    first = clock()
    deadline = first + seconds
    if rate <= 0:
        waiting: deque[gevent.Greenlet[[float], bool]] = deque()
        while clock() < deadline:
            for _ in range(BATCH):
                rooms[chan].publish(f"{phase}:{me}:{chan}:{counts[chan]}:{clock()!r}")
                counts[chan] += 1
                chan = chan + 1 if chan + 1 < n else 0
            # A flush marker right behind the batch (the greenlet starts at sleep(0)); at most
            # WINDOW batches wait for the writer, so its queue never fills and drops.
            waiting.append(gevent.spawn(hub.flush, 30.0))
            gevent.sleep(0)
            while len(waiting) > WINDOW:
                unflushed += not waiting.popleft().get()
        for flushing in waiting:
            unflushed += not flushing.get()
    else:
        interval = 1.0 / rate
        k = 0
        while (due := first + k * interval) < deadline:
            wait = due - clock()
            if wait > 0:
                gevent.sleep(wait)
            rooms[chan].publish(f"{phase}:{me}:{chan}:{counts[chan]}:{clock()!r}")
            counts[chan] += 1
            chan = chan + 1 if chan + 1 < n else 0
            k += 1
    published_until = clock()
    flushed = channels.flush(30.0)  # the process-wide hub's: ``hub``
    return {
        "published": counts,
        "first": first,
        "published_until": published_until,
        "flushed_at": clock(),
        "flushed": flushed and not unflushed,
        "dropped": getattr(hub.backend, "dropped", 0) - dropped0,
        **window.end(),
    }


# -- both ----------------------------------------------------------------------


def wait_connected(hub: channels.ChannelHub, timeout: float = 30.0) -> None:
    connected: Event | None = getattr(hub.backend, "connected", None)
    if connected is not None and not connected.wait(timeout):
        raise RuntimeError(f"the backend did not connect within {timeout:g} s")


def read_commands(commands: FileObjectPosix[Any, bytes]) -> Iterator[dict[str, Any]]:
    """The JSON commands on stdin, until quit or end of input."""
    while line := commands.readline():
        command = json.loads(line)
        if command["cmd"] == "quit":
            return
        yield command


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=("worker", "publisher"), required=True)
    parser.add_argument("--mode", choices=list(MODES), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--index", type=int, default=0, help="this worker's (or publisher's) number, from 0")
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--per-worker", type=int, default=10, help="channels with members on each worker")
    parser.add_argument("--members", type=int, default=10, help="members per channel on a worker")
    args = parser.parse_args(argv)
    hub = channels.configure(backend_for(args.mode, args.url))
    commands = FileObjectPosix(sys.stdin.fileno(), "rb", close=False)
    try:
        if args.role == "worker":
            run_worker(args, hub, commands)
        else:
            run_publisher(args, hub, commands)
    finally:
        hub.stop()


if __name__ == "__main__":
    main()
