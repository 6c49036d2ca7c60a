"""The build backend: setuptools', which also asks for mypy when the compiled build is wanted.

``SOCKJS_GEVENT_COMPILE=1 pip install sockjs-gevent`` builds the modules
listed in ``sockjs_gevent/buildinfo.py`` with mypyc. pip builds in an
isolated environment that holds only what the backend asks for; mypyc
type-checks what it compiles, so it needs mypy, the package's dependencies
and their type stubs there. Without the variable, this is setuptools'
backend unchanged.
"""

from __future__ import annotations

import os
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 (every hook of setuptools', two of them extended below)

#: What mypyc needs beside the runtime dependencies (requirements.txt): the compiler, the stubs of gevent.
COMPILER_REQUIRES = ["mypy>=1.15,<3", "types-gevent"]


def _compile_wanted() -> bool:
    return os.environ.get("SOCKJS_GEVENT_COMPILE", "") not in ("", "0")


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    """setuptools' requirements, and for a compiled build mypy, gevent's stubs and the runtime dependencies."""
    requires = _setuptools.get_requires_for_build_wheel(config_settings)
    if not _compile_wanted():
        return requires
    with open("requirements.txt") as f:
        runtime = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    return [*requires, *COMPILER_REQUIRES, *runtime]


def build_editable(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    """setuptools' editable build; refused for a compiled build, whose modules would hide every edit."""
    if _compile_wanted():
        raise SystemExit(
            "SOCKJS_GEVENT_COMPILE=1 makes a regular install, not an editable one: compiled modules in the"
            " source tree would hide every later edit of their .py files. Run `pip install .` for a compiled"
            " build, or unset SOCKJS_GEVENT_COMPILE for an editable one."
        )
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
