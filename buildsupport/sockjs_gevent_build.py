"""The build backend: setuptools', which also asks for mypy when the compiled build is wanted.

``SOCKJS_GEVENT_COMPILE=1 pip install sockjs-gevent`` builds the modules
listed in ``sockjs_gevent/buildinfo.py`` with mypyc. pip builds in an
isolated environment that holds only what the backend asks for; mypyc
type-checks what it compiles, so it needs mypy, the package's dependencies
and their type stubs there. Without the variable, this is setuptools'
backend unchanged.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 (every hook of setuptools', two of them extended below)

#: What mypyc needs beside the runtime dependencies (requirements.txt): the compiler, the stubs of gevent.
COMPILER_REQUIRES = ["mypy>=1.15,<3", "types-gevent"]


def _buildinfo() -> Any:
    """sockjs_gevent/buildinfo.py (as setup.py loads it: by path, the package's dependencies may be missing)."""
    spec = importlib.util.spec_from_file_location(
        "_sockjs_gevent_buildinfo", os.path.join("sockjs_gevent", "buildinfo.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    """setuptools' requirements, and for a compiled build mypy, gevent's stubs and the runtime dependencies."""
    requires = _setuptools.get_requires_for_build_wheel(config_settings)
    buildinfo = _buildinfo()
    if not buildinfo.compile_requested(os.environ):
        return requires
    return [*requires, *COMPILER_REQUIRES, *buildinfo.runtime_requirements(".")]


def build_editable(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    """setuptools' editable build; refused for a compiled build, whose modules would hide every edit."""
    if _buildinfo().compile_requested(os.environ):
        raise SystemExit(
            "SOCKJS_GEVENT_COMPILE=1 makes a regular install, not an editable one: compiled modules in the"
            " source tree would hide every later edit of their .py files. Run `pip install .` for a compiled"
            " build, or unset SOCKJS_GEVENT_COMPILE for an editable one."
        )
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
