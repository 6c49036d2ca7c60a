"""The conformance suite runs against both HTTP servers (see tests/both_servers.py)."""

from tests.both_servers import *  # noqa: F401,F403 (the fixtures)
