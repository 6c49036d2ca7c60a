"""examples/sockjs-gevent.service is a unit systemd accepts (systemd-analyze verify, with this checkout's paths)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from testkit.serverproc import ROOT

UNIT = os.path.join(ROOT, "examples", "sockjs-gevent.service")


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is installed by scripts/bootstrap.sh"
)
def test_the_example_unit_verifies(tmp_path):
    with open(UNIT, encoding="utf-8") as f:
        text = f.read()
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={gunicorn}", text, flags=re.M)
    text = text.replace("/srv/myapp", str(tmp_path))
    unit = tmp_path / "myapp.service"
    unit.write_text(text, encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=30)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if "myapp.service" in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


def test_the_unit_reloads_with_hup_and_waits_past_the_graceful_timeout():
    with open(UNIT, encoding="utf-8") as f:
        text = f.read()
    assert "ExecReload=/bin/kill -s HUP $MAINPID" in text
    stop = int(re.search(r"^TimeoutStopSec=(\d+)", text, re.M).group(1))
    with open(os.path.join(ROOT, "examples", "gunicorn.conf.py"), encoding="utf-8") as f:
        graceful = int(re.search(r"^graceful_timeout\s*=\s*(\d+)", f.read(), re.M).group(1))
    assert stop > graceful
