"""Helpers shared by the tests, the benchmarks (bench/) and the soak (scripts/soak.py); not part of the wheel.

    serverproc   start a server subprocess and wait for its ready line; its output, its stop
    wsframe      RFC 6455 by hand: the one WebSocket framer (handshake, frames, close codes)
    rawhttp      the one raw HTTP/1.x client: requests built, answers read (heads, bodies, chunks)
    rawws        WebSocket over a rawhttp connection, framed by wsframe
    sockjshttp   SockJS sessions over plain HTTP requests: polling, sending
    sockjsstream SockJS frames out of streaming answers

Import them as ``from testkit.serverproc import start_testserver``: the
repository root is on sys.path under pytest (tests/ is a package) and with
``python -m``; bench/ and scripts/ entry points put it there when run as files.
"""
