"""CI smoke run of the locust load test (loadtests/) against the test server.

Twenty users over the four transports for a few seconds: every sample type
must show up in locust's CSV statistics, and nothing may fail.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from testkit.serverproc import ROOT

TRANSPORTS = ["websocket", "xhr-streaming", "eventsource", "xhr-polling"]
KINDS = ["connect", "echo rtt", "broadcast"]
RUN_SECONDS = 5


def run_locust(host: str, prefix: Path, timeout: float = 25) -> subprocess.CompletedProcess:
    """Locust headless in a subprocess against ``host``: 20 users, echo every 0.5 s, broadcast every 1 s.

    Its CSV statistics go to ``prefix`` (``read_stats`` reads them).
    """
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        os.path.join(ROOT, "loadtests", "locustfile.py"),
        "--host",
        host,
        "--headless",
        "-u",
        "20",
        "-r",
        "20",
        "-t",
        f"{RUN_SECONDS}s",
        "--stop-timeout",
        "2",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--message-interval",
        "0.5",
        "--broadcast-interval",
        "1",
    ]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def read_stats(prefix: Path) -> tuple[dict[tuple[str, str], dict[str, str]], list[dict[str, str]]]:
    """Locust's CSV statistics written to ``prefix``: the rows by (type, name), and the failures."""
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = {(row["Type"], row["Name"]): row for row in csv.DictReader(f)}
    with open(f"{prefix}_failures.csv", newline="") as f:
        failures = list(csv.DictReader(f))
    return rows, failures


def test_locust_run_has_samples_of_every_kind_and_no_failures(server_factory, tmp_path: Path) -> None:
    server = server_factory()  # its own /broadcast channel, shared with no other test
    result = run_locust(server.base_url, tmp_path / "smoke")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output

    rows, failures = read_stats(tmp_path / "smoke")

    assert failures == [], output
    assert rows[("", "Aggregated")]["Failure Count"] == "0", output
    for kind in KINDS:
        for transport in TRANSPORTS:
            row = rows.get((kind, transport))
            assert row is not None and int(row["Request Count"]) > 0, f"no {kind!r} samples over {transport}\n{output}"
            assert row["Failure Count"] == "0"
    unexpected = {key for key in rows if key[0] not in KINDS and key != ("", "Aggregated")}
    assert not unexpected, f"unexpected rows (closed sessions?): {unexpected}"
