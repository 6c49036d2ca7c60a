"""The test server with tracemalloc on, dumping snapshots on demand (for bench/memory.py).

    python -m bench.servers.traced_server SNAPSHOT_DIR [testserver arguments...]

On SIGUSR1 it runs a full GC pass and writes ``SNAPSHOT_DIR/<n>.snap`` (a
tracemalloc snapshot) and ``<n>.types`` (live objects counted by type, as
JSON), then ``<n>.done``; each dump is numbered from 0.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import tracemalloc
from collections import Counter

import gevent

tracemalloc.start(1)
_count = [0]


def _dump(directory: str) -> None:
    n = _count[0]
    _count[0] += 1
    gc.collect()
    base = os.path.join(directory, str(n))
    tracemalloc.take_snapshot().dump(base + ".snap")
    types = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())
    with open(base + ".types", "w") as f:
        json.dump(types, f)
    open(base + ".done", "w").close()


def main() -> None:
    directory = sys.argv[1]
    gevent.signal_handler(signal.SIGUSR1, lambda: gevent.spawn(_dump, directory))
    from sockjs_gevent.testserver import main as testserver_main

    testserver_main(sys.argv[2:])


if __name__ == "__main__":
    main()
