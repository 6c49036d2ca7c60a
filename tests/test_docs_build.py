"""The documentation site builds with MkDocs, warnings as errors, and its API pages have content.

``mkdocs build --strict`` fails on any warning: a page missing from the nav,
a link to a missing page or heading, a snippet that cannot be included, an
object mkdocstrings cannot find. This test is how CI (``.ci/run``, which
runs the whole suite) builds the docs; ``scripts/bootstrap.sh`` installs
requirements-docs.txt.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.serverproc import ROOT


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")  # Material's notice about its successor: not a warning of ours
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (
        f"mkdocs build --strict failed (exit {done.returncode}; bash scripts/bootstrap.sh installs "
        f"requirements-docs.txt):\n{done.stdout}\n{done.stderr}"
    )
    return out


@pytest.mark.timeout(300)
def test_the_site_builds_with_warnings_as_errors(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert "Keep a Changelog" in (site / "changelog" / "index.html").read_text(encoding="utf-8")  # the snippet
    assert "Contributing" in (site / "contributing" / "index.html").read_text(encoding="utf-8")


REFERENCE = {
    # page: what its generated text must say (a phrase of a docstring of the object documented there)
    "core": "A SockJS service: a WSGI app that runs",
    "serving": "until SIGINT or SIGTERM",
    "channels": "Broadcast to groups of connections",
    "multiplex": "Many named streams over one SockJS connection",
    "testing": "One fake client session against",
    "client": "A gevent SockJS client",
    "flask": "SockJS services inside a Flask app",
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("page", sorted(REFERENCE))
def test_reference_pages_render_the_docstrings(site: Path, page: str) -> None:
    html = (site / "reference" / page / "index.html").read_text(encoding="utf-8")
    assert len(re.findall(r'class="doc doc-heading"', html)) >= 1, f"reference/{page}: no object was rendered"
    text = re.sub(r"<[^>]+>", "", html)
    assert REFERENCE[page] in text, f"reference/{page} does not show {REFERENCE[page]!r}"
