"""Real Redis for the tests: one ``redis-server``, or a Redis Cluster of them, on loopback ports.

- ``RedisServer``: ``redis-server`` with no persistence on a loopback port,
  restartable on that port (the channel tests stop and start it under a
  running worker);
- ``RedisCluster``: masters with replicas (``redis-cli --cluster create``),
  for the sharded pub/sub tests: which master serves a slot, kill a node and
  wait for its replica to take over, move a slot to another master;
- ``free_port``/``free_ports``: loopback ports nobody listens on.

Processes start through ``testkit.serverproc.spawn`` (their output collected
by a thread); readiness is waited for on Redis's ready line, and cluster
state is polled at short intervals, never slept for. Admin commands go
through plain (blocking) redis-py: no gevent is needed here.
"""

from __future__ import annotations

import random
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import redis
from redis.crc import key_slot

from testkit.serverproc import Output, poll_until, spawn, stop_process

START_TIMEOUT = 20.0
REDIS_READY = re.compile(r"Ready to accept connections")
PORT_TAKEN = "Address already in use"
SLOTS = 16384
#: How often cluster state is polled (it changes on gossip, which has no event to wait on).
POLL_INTERVAL = 0.02

#: Runs a blocking wait: ``lambda fn: fn()`` by default; a gevent caller passes
#: one that runs it in gevent's thread pool, so its greenlets run meanwhile.
Blocking = Callable[[Callable[[], object]], object]


def _call(fn: Callable[[], object]) -> object:
    """Run ``fn`` here (the default ``Blocking``)."""
    return fn()


def _ephemeral_start() -> int:
    """The first port the kernel hands out for outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 right now."""
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


def free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports nobody listens on now, below the ephemeral range.

    A port the kernel picks (bind to 0) is an ephemeral one: until the
    server binds it, it can become the local port of any outgoing
    connection. Ports below that range never do.
    """
    top = _ephemeral_start()
    chosen: list[int] = []
    for _ in range(200 * n):
        port = random.randrange(max(1024, top - 12000), top)
        if port not in chosen and _bindable(port):
            chosen.append(port)
            if len(chosen) == n:
                return chosen
    raise RuntimeError(f"no {n} free loopback ports below {top}")


def free_port() -> int:
    """A loopback port nobody listens on now (see ``free_ports``)."""
    return free_ports(1)[0]


class PortTaken(RuntimeError):
    """redis-server could not bind its port (someone took it after we picked it)."""


class RedisServer:
    """``redis-server`` with no persistence on a loopback port (restartable on it).

    ``port`` None picks a free one (and another if it was taken meanwhile).
    ``blocking`` runs the wait for the ready line (see ``Blocking``).
    Subclasses add options with ``options()``.
    """

    def __init__(self, port: int | None = None, *, blocking: Blocking = _call) -> None:
        self.picked = port is None
        self.port = port or free_port()
        self.blocking = blocking
        self.process: subprocess.Popen | None = None
        self.out: Output | None = None
        self.starts = 0
        self.ready_once = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def options(self) -> list[str]:
        """Options beyond the port and no persistence (a cluster node's)."""
        return []

    def argv(self) -> list[str]:
        base = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        return [*base, "--save", "", "--appendonly", "no", "--loglevel", "notice", *self.options()]

    def launch(self) -> None:
        """Start the process; returns at once (``wait_ready`` waits for it)."""
        self.starts += 1
        self.process, self.out = spawn(self.argv())

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait for the ready line.

        A port this server picked itself and someone took meanwhile is
        picked again (3 times), on the first start only: a restart keeps it.
        """
        for attempt in range(4):
            try:
                self._wait_ready_once(timeout)
                self.ready_once = True
                return
            except PortTaken:
                if not self.picked or self.ready_once or attempt == 3:
                    raise
                self.repick()
                self.launch()

    def _wait_ready_once(self, timeout: float) -> None:
        out = self.out
        assert out is not None, "launch() first"
        try:
            self.blocking(lambda: out.wait_for(REDIS_READY, timeout))
        except AssertionError:
            self.kill()
            error = PortTaken if PORT_TAKEN in out.text() else RuntimeError
            raise error(f"redis-server on port {self.port} did not start:\n{out.text()}") from None

    def repick(self) -> None:
        """Choose new free port(s) before launching again."""
        self.port = free_port()

    def start(self, timeout: float = START_TIMEOUT) -> RedisServer:
        """Launch and wait until it accepts connections."""
        self.launch()
        self.wait_ready(timeout)
        return self

    def log(self) -> str:
        """What the current process printed."""
        return self.out.text() if self.out is not None else ""

    def kill(self) -> None:
        """SIGKILL, and reap."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM; SIGKILL if it lingers."""
        if self.process is not None:
            stop_process(self.process, timeout)


class ClusterNode(RedisServer):
    """One ``redis-server`` of a ``RedisCluster``: cluster mode, its own bus port, its state in ``directory``."""

    def __init__(self, directory: str, node_timeout_ms: int) -> None:
        port, bus_port = free_ports(2)
        super().__init__(port)
        self.picked = True
        self.bus_port = bus_port
        self.directory = directory
        self.node_timeout_ms = node_timeout_ms

    def options(self) -> list[str]:
        return [
            *("--cluster-enabled", "yes", "--cluster-port", str(self.bus_port)),
            *("--cluster-config-file", f"{self.directory}/nodes-{self.port}.conf"),
            *("--cluster-node-timeout", str(self.node_timeout_ms)),
            # A replica syncs at once (the default waits 5 s for more replicas);
            # until its link is up it could not take over from its master.
            *("--repl-diskless-sync-delay", "0"),
            *("--dir", self.directory),
        ]

    def repick(self) -> None:
        self.port, self.bus_port = free_ports(2)


@dataclass(frozen=True)
class NodeInfo:
    """One line of CLUSTER NODES: a node as another node sees it."""

    id: str
    port: int
    flags: frozenset[str]
    master_id: str | None
    slots: tuple[tuple[int, int], ...]

    @property
    def is_master(self) -> bool:
        return "master" in self.flags

    @property
    def failed(self) -> bool:
        return "fail" in self.flags


def parse_nodes(text: str) -> list[NodeInfo]:
    """CLUSTER NODES' lines."""
    return [_parse_node(line.split()) for line in text.splitlines() if len(line.split()) >= 8]


def _parse_node(fields: list[str]) -> NodeInfo:
    """One line of CLUSTER NODES, split (slots being migrated, ``[slot->-id]``, are left out)."""
    port = int(fields[1].split("@")[0].rpartition(":")[2])
    ranges = []
    for field in fields[8:]:
        if not field.startswith("["):
            first, _, last = field.partition("-")
            ranges.append((int(first), int(last or first)))
    master_id = None if fields[3] == "-" else fields[3]
    return NodeInfo(fields[0], port, frozenset(fields[2].split(",")), master_id, tuple(ranges))


#: (first slot, last slot, master port, replica ports) per range, as CLUSTER SLOTS says.
SlotTable = tuple[tuple[int, int, int, tuple[int, ...]], ...]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisCluster:
    """A Redis Cluster on loopback ports: ``masters`` masters with ``replicas`` replicas each.

    The nodes live in a temporary directory (their nodes.conf files) that
    ``stop()`` removes. Ports are the nodes' client ports; ``nodes`` lists
    them in creation order.
    """

    def __init__(self, masters: int = 3, replicas: int = 1, node_timeout_ms: int = 1000) -> None:
        if not (shutil.which("redis-server") and shutil.which("redis-cli")):
            raise RuntimeError("the Redis Cluster tests need redis-server and redis-cli (scripts/apt-packages.txt)")
        self.masters_wanted = masters
        self.replicas_wanted = replicas
        self.node_timeout_ms = node_timeout_ms
        self.directory = tempfile.mkdtemp(prefix="redis-cluster-")
        self._servers: dict[int, ClusterNode] = {}
        self._clients: dict[int, redis.Redis] = {}
        #: What a killed node served when it died: (its slots, its replicas' ports).
        self._killed: dict[int, tuple[tuple[tuple[int, int], ...], list[int]]] = {}
        #: Seconds ``start()`` took.
        self.start_seconds = 0.0

    # -- life ----------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> RedisCluster:
        """Start the nodes, create the cluster, wait until every node agrees it is ok; stopped again on failure."""
        began = time.monotonic()
        try:
            self._launch(timeout)
            self._create(timeout)
            self.wait_agreed(timeout)
            poll_until(self._replicas_linked, timeout, "the replicas to sync with their masters", POLL_INTERVAL)
            self._write_once_to_masters()
            self.wait_agreed(timeout, self._lists_every_replica)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        return self

    def _launch(self, timeout: float) -> None:
        count = self.masters_wanted * (1 + self.replicas_wanted)
        servers = [ClusterNode(self.directory, self.node_timeout_ms) for _ in range(count)]
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready(timeout)  # may have moved to other ports: keyed by port after
        self._servers = {server.port: server for server in servers}

    def _create(self, timeout: float) -> None:
        addresses = [f"127.0.0.1:{port}" for port in self._servers]
        replicas = ["--cluster-replicas", str(self.replicas_wanted), "--cluster-yes"]
        result = subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, *replicas],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0 or "[OK] All 16384 slots covered" not in result.stdout:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{result.stdout}\n{result.stderr}")

    def _write_once_to_masters(self) -> None:
        """A write on each master, so that its replicas' replication offset is past 0.

        CLUSTER SLOTS leaves out a replica whose offset is 0 (it counts as
        still loading) until its master's first write or its 10 s ping; a
        cluster that has done anything lists them.
        """
        for port in self.masters():
            key = next(self.names_on(port, "redisservers-"))
            self.command(port, "SET", key, "1")
            self.command(port, "DEL", key)

    def stop(self) -> None:
        """Kill every node and remove the directory."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        for server in self._servers.values():
            server.kill()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addressing ----------------------------------------------------------

    @property
    def nodes(self) -> list[int]:
        """Every node's port, dead or alive."""
        return list(self._servers)

    @property
    def live_nodes(self) -> list[int]:
        return [port for port, server in self._servers.items() if server.alive]

    @property
    def url(self) -> str:
        """A startup node's URL (the first live node)."""
        return f"redis://127.0.0.1:{self.live_nodes[0]}"

    def server(self, port: int) -> ClusterNode:
        """The process behind ``port`` (its log, its liveness)."""
        return self._servers[port]

    def alive(self, port: int) -> bool:
        return self._servers[port].alive

    def client(self, port: int) -> redis.Redis:
        """A plain redis-py client of one node (kept until ``stop``)."""
        if port not in self._clients:
            self._clients[port] = redis.Redis(
                host="127.0.0.1", port=port, socket_timeout=5.0, socket_connect_timeout=2.0
            )
        return self._clients[port]

    def command(self, port: int, *args: str | int | bytes) -> Any:
        """One command on one node, answered raw (no redis-py parsing of CLUSTER replies)."""
        execute: Callable[..., Any] = self.client(port).execute_command  # redis-py leaves it unannotated
        return execute(*args)

    @staticmethod
    def slot_of(key: bytes | str) -> int:
        """The hash slot of ``key`` (CRC16 of its hash tag, as Redis computes it)."""
        return key_slot(key.encode() if isinstance(key, str) else key)

    # -- topology ------------------------------------------------------------

    def topology(self, port: int | None = None) -> list[NodeInfo]:
        """CLUSTER NODES as the node at ``port`` (the first live one) sees the cluster."""
        return parse_nodes(_text(self.command(port or self.live_nodes[0], "CLUSTER", "NODES")))

    def masters(self) -> list[int]:
        """Ports of the masters that serve slots and are not failed."""
        return [n.port for n in self.topology() if n.is_master and n.slots and not n.failed]

    def replicas_of(self, port: int) -> list[int]:
        """Ports of the replicas of the master at ``port``."""
        nodes = self.topology()
        master = next(n for n in nodes if n.port == port)
        return [n.port for n in nodes if n.master_id == master.id]

    def node_id(self, port: int) -> str:
        return _text(self.command(port, "CLUSTER", "MYID"))

    def slot_table(self, port: int | None = None) -> SlotTable:
        """CLUSTER SLOTS as the node at ``port`` (the first live one) answers it, sorted."""
        rows = self.command(port or self.live_nodes[0], "CLUSTER", "SLOTS")
        table = [(int(row[0]), int(row[1]), int(row[2][1]), tuple(sorted(int(r[1]) for r in row[3:]))) for row in rows]
        return tuple(sorted(table))

    def master_of_slot(self, slot: int) -> int:
        """The port of the master serving ``slot`` (as the first live node sees it)."""
        for first, last, master, _ in self.slot_table():
            if first <= slot <= last:
                return master
        raise AssertionError(f"no master serves slot {slot}")

    def slots_of(self, port: int) -> list[tuple[int, int]]:
        """The (first, last) slot ranges the master at ``port`` serves."""
        return [(first, last) for first, last, master, _ in self.slot_table() if master == port]

    def names_on(self, port: int, prefix: str = "room-", key: Callable[[str], str] = str) -> Iterator[str]:
        """Names ``prefix + n`` whose slot the master at ``port`` serves (a channel on a chosen shard).

        ``key`` gives the Redis name a name stands for (e.g. the backend's prefix added); the slot is its.
        """
        ranges = self.slots_of(port)
        n = 0
        while True:
            name = f"{prefix}{n}"
            slot = self.slot_of(key(name))
            if any(first <= slot <= last for first, last in ranges):
                yield name
            n += 1

    # -- waiting -------------------------------------------------------------

    def _state_ok(self, port: int) -> bool:
        return b"cluster_state:ok" in self.command(port, "CLUSTER", "INFO")

    def agreed(self) -> SlotTable | None:
        """The slot table if every live node says cluster_state:ok and answers the same full table; else None."""
        try:
            ports = self.live_nodes
            if not all(self._state_ok(port) for port in ports):
                return None
            tables = {self.slot_table(port) for port in ports}
        except redis.RedisError:
            return None
        if len(tables) != 1:
            return None
        (table,) = tables
        return table if sum(last - first + 1 for first, last, _, _ in table) == SLOTS else None

    def wait_agreed(self, timeout: float = 15.0, until: Callable[[SlotTable], bool] = lambda table: True) -> SlotTable:
        """Poll until ``agreed()`` gives a table that satisfies ``until``; that table."""

        def settled() -> SlotTable | None:
            table = self.agreed()
            return table if table is not None and until(table) else None

        return poll_until(settled, timeout, "the cluster nodes to agree on the slots", POLL_INTERVAL)

    def _lists_every_replica(self, table: SlotTable) -> bool:
        return sum(len(replicas) for _, _, _, replicas in table) == self.masters_wanted * self.replicas_wanted

    def _replicas_linked(self) -> bool:
        replicas = [n.port for n in self.topology() if n.master_id is not None and self.alive(n.port)]
        return all(self.client(port).info("replication").get("master_link_status") == "up" for port in replicas)

    # -- faults --------------------------------------------------------------

    def kill(self, port: int) -> None:
        """SIGKILL the node at ``port`` (its slots and replicas are noted first, for ``wait_for_failover``)."""
        self._killed[port] = self._served_by(port)
        client = self._clients.pop(port, None)
        if client is not None:
            client.close()
        self._servers[port].kill()

    def _served_by(self, port: int) -> tuple[tuple[tuple[int, int], ...], list[int]]:
        nodes = self.topology(next(p for p in self.live_nodes if p != port))
        me = next(n for n in nodes if n.port == port)
        return me.slots, [n.port for n in nodes if n.master_id == me.id]

    def wait_for_failover(self, dead_port: int, timeout: float = 15.0) -> int:
        """Wait until a replica of the dead master serves its slots and every live node agrees; its port."""
        slots, replicas = self._killed.get(dead_port) or self._served_by(dead_port)
        assert slots, f"node {dead_port} served no slots: nothing to fail over"
        first = slots[0][0]

        def promoted(table: SlotTable) -> bool:
            return any(lo <= first <= hi and master in replicas for lo, hi, master, _ in table)

        table = self.wait_agreed(timeout, promoted)
        return next(master for lo, hi, master, _ in table if lo <= first <= hi)

    def migrate_slot(self, slot: int, to_port: int, timeout: float = 15.0) -> None:
        """Move ``slot`` and its keys to the master at ``to_port``, the way redis-cli --cluster reshard does.

        The target imports, the source migrates, the keys move with MIGRATE,
        then every master is told the new owner (target first, then source);
        returns once every live node agrees.
        """
        source = self.master_of_slot(slot)
        if source == to_port:
            return
        source_id, target_id = self.node_id(source), self.node_id(to_port)
        self.command(to_port, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        self.command(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        self._move_keys(slot, source, to_port)
        others = [port for port in self.masters() if port not in (source, to_port)]
        for port in [to_port, source, *others]:
            self.command(port, "CLUSTER", "SETSLOT", slot, "NODE", target_id)

        def moved(table: SlotTable) -> bool:
            return any(lo <= slot <= hi and master == to_port for lo, hi, master, _ in table)

        self.wait_agreed(timeout, moved)

    def _move_keys(self, slot: int, source: int, target: int) -> None:
        while True:
            keys = self.command(source, "CLUSTER", "GETKEYSINSLOT", slot, 100)
            if not keys:
                return
            self.command(source, "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
