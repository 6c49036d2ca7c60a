"""Packaging for sockjs-gevent (the library) and flask_sockjs (the Flask extension)."""

import importlib.util
import os
import re
import sys
from typing import Any

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version() -> str:
    """``__version__`` of sockjs_gevent/__init__.py, read as text: importing the package needs its dependencies."""
    with open(os.path.join(HERE, "sockjs_gevent", "__init__.py"), encoding="utf-8") as f:
        match = re.search(r"""^__version__ = ["']([^"']+)["']""", f.read(), re.M)
    if match is None:
        raise RuntimeError('no __version__ = "..." line in sockjs_gevent/__init__.py')
    return match.group(1)


def load_buildinfo() -> Any:
    """sockjs_gevent/buildinfo.py, loaded by path: importing the package needs its dependencies."""
    path = os.path.join(HERE, "sockjs_gevent", "buildinfo.py")
    spec = importlib.util.spec_from_file_location("_sockjs_gevent_buildinfo", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The compiled build's module list, and the requirements and compile switch it shares with the build backend.
BUILDINFO = load_buildinfo()
#: The commands that build the extension modules (a PEP 517 wheel build runs bdist_wheel).
BUILD_COMMANDS = {"build", "build_ext", "bdist_wheel", "install", "develop", "editable_wheel"}


def compiled_extensions() -> list[Any]:
    """The compiled build's extension modules (mypyc) when SOCKJS_GEVENT_COMPILE=1; none otherwise."""
    if not BUILDINFO.compile_requested(os.environ):
        return []
    if not BUILD_COMMANDS & set(sys.argv[1:]):
        return []  # metadata only (egg_info, dist_info, --version): what pip asks before the build's requirements
    try:
        from mypyc.build import mypycify
    except ImportError:
        raise SystemExit(
            f"{BUILDINFO.COMPILE_VARIABLE}=1 needs mypy (mypyc) where the package is built: pip's isolated build"
            " gets it from the build backend; with --no-build-isolation, pip install mypy types-gevent first"
        ) from None
    sources = [os.path.relpath(BUILDINFO.source_path(HERE, name), HERE) for name in BUILDINFO.COMPILED_MODULES]
    # The optional extras (redis, prometheus-client, flask) are not in the build environment; the
    # compiled modules do not use them, but mypy follows the package's imports to them.
    return mypycify(["--ignore-missing-imports", *sources], opt_level="3")


setup(
    name="sockjs-gevent",
    version=read_version(),
    description="SockJS server for gevent: every transport, blocking-style handlers",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=[*find_packages(include=["sockjs_gevent", "sockjs_gevent.*"]), "flask_sockjs"],
    package_dir={"flask_sockjs": "flask_ext"},
    # PEP 561: the packages' type hints are meant to be used by type checkers.
    package_data={"sockjs_gevent": ["py.typed"], "flask_sockjs": ["py.typed"]},
    license="MIT",  # (an SPDX expression: setuptools 77 and later deprecate the license classifier)
    license_files=["LICENSE"],
    install_requires=BUILDINFO.runtime_requirements(HERE),
    ext_modules=compiled_extensions(),
    extras_require={
        "flask": ["flask>=3.0"],
        "redis": ["redis>=5.0"],
        "prometheus": ["prometheus-client>=0.20,<1"],
        "gunicorn": ["gunicorn>=23,<28"],
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "hypothesis>=6.100",
            "gevent-websocket==0.10.1",
            "flask>=3.0",
            "redis>=5.0",
            "prometheus-client>=0.20,<1",
            "gunicorn>=23,<28",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Typing :: Typed",
        "Framework :: Flask",
        "Topic :: Internet :: WWW/HTTP :: WSGI :: Server",
    ],
)
