"""Presence in Redis: who is in each channel, on every worker, with a bounded staleness.

One hash per channel holds its members: field ``<worker id>:<member id>``,
value the info as JSON text. Each worker keeps a key ``worker:<id>`` alive
with a TTL, refreshed every third of it; a reader keeps the members of
workers whose key exists, so a worker that dies drops out within the TTL,
and the reader deletes its leftover fields. A worker that lost writes
(Redis down) writes its members again, and removes what it no longer has,
once Redis answers again (``resync``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Characters of a worker id (hex of 8 random bytes).
WORKER_ID_LENGTH = 16


class PresenceStore:
    """This worker's presence entries, mirrored into Redis through pipelines the relay runs."""

    def __init__(self, prefix: str, worker_id: str, ttl: float) -> None:
        self.prefix = prefix
        self.worker_id = worker_id
        self.ttl_ms = max(1, int(ttl * 1000))
        #: channel key -> member id -> info JSON (what Redis should hold for us).
        self.local: dict[str, dict[str, str]] = {}
        #: Keys whose writes were lost: cleaned of our stale fields at the next resync.
        self.dirty: set[str] = set()

    def hash_of(self, key: str) -> bytes:
        return _bytes(f"{self.prefix}presence:{key}")

    def worker_key(self, worker_id: str) -> bytes:
        return _bytes(f"{self.prefix}worker:{worker_id}")

    def field(self, member_id: str) -> bytes:
        return _bytes(f"{self.worker_id}:{member_id}")

    # -- local changes (the relay queues the matching Redis write) -------------

    def add(self, key: str, member_id: str, info: str) -> None:
        self.local.setdefault(key, {})[member_id] = info

    def remove(self, key: str, member_id: str) -> None:
        members = self.local.get(key)
        if members is not None:
            members.pop(member_id, None)
            if not members:
                del self.local[key]

    # -- Redis commands, added to a pipeline -----------------------------------

    def queue_add(self, pipe: Any, key: str, member_id: str, info: str) -> None:
        pipe.hset(self.hash_of(key), self.field(member_id), _bytes(info))

    def queue_remove(self, pipe: Any, key: str, member_id: str) -> None:
        pipe.hdel(self.hash_of(key), self.field(member_id))

    def queue_heartbeat(self, pipe: Any) -> None:
        pipe.set(self.worker_key(self.worker_id), b"1", px=self.ttl_ms)

    def lost(self, keys: Iterable[str]) -> None:
        """Writes for ``keys`` did not reach Redis."""
        self.dirty.update(keys)

    def resync(self, client: Any) -> None:
        """Make Redis hold exactly our local entries for the keys we touched (after an outage)."""
        ours = self.field("")  # the start of each of our fields
        for key in list(self.dirty):
            keep = {self.field(member_id) for member_id in self.local.get(key, ())}
            stale = [field for field in client.hkeys(self.hash_of(key)) if field.startswith(ours) and field not in keep]
            if stale:
                client.hdel(self.hash_of(key), *stale)
        pipe = client.pipeline(transaction=False)
        self.queue_heartbeat(pipe)
        for key, members in self.local.items():
            for member_id, info in members.items():
                self.queue_add(pipe, key, member_id, info)
        pipe.execute()
        self.dirty.clear()

    # -- reading -----------------------------------------------------------------

    def read(self, client: Any, key: str) -> dict[str, str]:
        """Member id -> info JSON of ``key`` on every live worker; deletes dead workers' fields.

        This worker's own members come from ``local``: a join shows at once,
        whether or not its write has reached Redis yet.
        """
        entries = client.hgetall(self.hash_of(key))
        by_worker: dict[str, list[tuple[bytes, str, str]]] = {}
        for field, value in entries.items():
            text = field.decode("utf-8", "surrogatepass")
            worker_id, _, member_id = text.partition(":")
            by_worker.setdefault(worker_id, []).append((field, member_id, value.decode("utf-8", "surrogatepass")))
        by_worker.pop(self.worker_id, None)  # ours: the local entries, even those still on their way
        others = list(by_worker)
        alive: set[str] = set()
        if others:
            pipe = client.pipeline(transaction=False)
            for worker_id in others:
                pipe.exists(self.worker_key(worker_id))
            alive.update(worker_id for worker_id, found in zip(others, pipe.execute(), strict=True) if found)
        present: dict[str, str] = dict(self.local.get(key, {}))
        dead: list[bytes] = []
        for worker_id, members in by_worker.items():
            for field, member_id, info in members:
                if worker_id in alive:
                    present[member_id] = info
                else:
                    dead.append(field)
        if dead:
            client.hdel(self.hash_of(key), *dead)
        return present


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")
