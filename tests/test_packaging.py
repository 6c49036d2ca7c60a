"""What a user installs: the sdist and the wheel carry LICENSE and the PEP 561 markers.

Built offline, as CI must: the sdist with ``setup.py sdist``, then the
wheel from the unpacked sdist (what pip does when it installs from
source) with ``pip wheel --no-build-isolation --no-index``, so nothing is
downloaded. The tree is copied first, so no stale ``build/`` of an earlier
build can put a file into the wheel that the configuration would leave out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from testkit.serverproc import ROOT

NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".build",
    ".venv",
    ".venv-*",
    "site",
    "node_modules",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    "bench-results",
    "results",
    ".peers",
)


def run(args: list[str], cwd: Path) -> None:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("SOCKJS_GEVENT_COMPILE", None)  # (the default build: pure Python)
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"


def test_sdist_and_wheel_carry_the_license_and_py_typed(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)

    run([sys.executable, "setup.py", "-q", "sdist", "--formats=gztar", "-d", str(tmp_path / "sdist")], source)
    (sdist,) = (tmp_path / "sdist").glob("sockjs-gevent-*.tar.gz")
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
        top = members[0].split("/")[0]
        in_sdist = {name.split("/", 1)[1] for name in members if "/" in name}
        tar.extractall(tmp_path / "unpacked", filter="data")
    # requirements.txt and README.md: setup.py reads them, so without them the sdist would not build.
    assert {
        "LICENSE",
        "sockjs_gevent/py.typed",
        "flask_ext/py.typed",
        "requirements.txt",
        "README.md",
        "pyproject.toml",
        "buildsupport/sockjs_gevent_build.py",  # (pyproject.toml's build backend)
        "sockjs_gevent/buildinfo.py",
    } <= in_sdist

    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(tmp_path / "unpacked" / top),
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(tmp_path / "wheel"),
        ],
        tmp_path,
    )
    (wheel,) = (tmp_path / "wheel").glob("sockjs_gevent-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
        dist_info = next(name.split("/")[0] for name in in_wheel if name.split("/")[0].endswith(".dist-info"))
        metadata = archive.read(f"{dist_info}/METADATA").decode()
        licenses = [name for name in in_wheel if name.startswith(dist_info + "/") and name.endswith("/LICENSE")]
        assert licenses, f"no LICENSE in {dist_info}: {sorted(in_wheel)}"
        assert "Copyright (c) 2026 the sockjs-gevent authors" in archive.read(licenses[0]).decode()
    assert {"sockjs_gevent/py.typed", "flask_sockjs/py.typed"} <= in_wheel
    assert "License-File: LICENSE" in metadata
    assert "sockjs_gevent/metrics.py" in in_wheel
    # Without SOCKJS_GEVENT_COMPILE, pure Python for every platform (scripts/test-compiled.sh builds the other).
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    assert not [name for name in in_wheel if name.endswith(".so")]


def test_the_classifiers_name_the_pythons_ci_tests() -> None:
    """setup.py claims the versions CI runs the tests on: .venv's and scripts/test-pythons.sh's."""
    import re

    setup = (Path(ROOT) / "setup.py").read_text()
    claimed = set(re.findall(r"Programming Language :: Python :: (3\.\d+)", setup))
    script = (Path(ROOT) / "scripts" / "test-pythons.sh").read_text()
    (loop,) = re.findall(r"^for version in ([\d. ]+); do", script, re.M)
    python_requires = re.search(r'python_requires=">=(3\.\d+)"', setup)
    assert python_requires is not None
    assert claimed == {python_requires.group(1), *loop.split()}
