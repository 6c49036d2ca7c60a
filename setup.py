"""Packaging for sockjs-gevent (the library) and flask_sockjs (the Flask extension)."""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version() -> str:
    """``__version__`` of sockjs_gevent/__init__.py, read as text: importing the package needs its dependencies."""
    with open(os.path.join(HERE, "sockjs_gevent", "__init__.py"), encoding="utf-8") as f:
        match = re.search(r"""^__version__ = ["']([^"']+)["']""", f.read(), re.M)
    if match is None:
        raise RuntimeError('no __version__ = "..." line in sockjs_gevent/__init__.py')
    return match.group(1)


with open("requirements.txt") as f:
    requirements = [line.strip() for line in f if line.strip() and not line.startswith("#")]

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
    license="MIT",
    license_files=["LICENSE"],
    install_requires=requirements,
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
        "License :: OSI Approved :: MIT License",
    ],
)
