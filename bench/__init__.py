"""The benchmarks (a package, so they import their parts as modules; not part of the wheel).

    bench/*.py          what you run (the docstring of each gives its command and options):
                        bench.py (the table against the peers), http_plain.py, handoff.py,
                        compression.py, memory.py, ws_engines.py, broadcast.py, profile_server.py
    bench/servers/      the servers under test the entry points start (sockjs-gevent's launcher,
                        the raw echo, the traced server, the websocket engines on their own)
    bench/lib/          what the entry points share: starting servers pinned to a core, the Python
                        and Node load generators, the scenarios, the peers' line-up, wrk, the table
    bench/peers/        the peer SockJS servers (sockjs-node, sockjs-tornado, aiohttp) and their installer
    bench/node/         the Node.js load generator (npm ws) and Node's plain HTTP server

Run an entry point as ``.venv/bin/python bench/bench.py`` or ``.venv/bin/python -m bench.bench``
from the repository root; the helpers it shares with the tests and the soak are in testkit/.
"""
