"""The hostile-input tests run against both HTTP servers (see tests/both_servers.py),
and reuse the conformance tests' wire helpers (rawhttp, rawws, sockjshttp, sockjsstream)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conformance"))

from both_servers import *  # noqa: E402,F401,F403 (the fixtures)
