"""bench/inprocess.py runs every scenario and checks what it measures (each answer counted, the echo arrived)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_scenario_runs_and_prints_its_figure():
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "inprocess.py"), "--count", "300", "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["plain", "post", "polling", "wsopen"]
    assert all(re.search(r"\d+\.\d+ us per operation", line) for line in lines), lines
