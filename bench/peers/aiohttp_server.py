"""aiohttp-sockjs (PyPI sockjs 0.13.0) peer for bench/bench.py: SockJS /echo and /broadcast.

    bench/.peers/venv-aiohttp/bin/python bench/peers/aiohttp_server.py PORT   (0 picks a free port)

Default add_endpoint options; only aiohttp's access log is off.
Prints ``aiohttp-sockjs listening on http://127.0.0.1:PORT`` when ready.
"""

import asyncio
import logging
import resource
import signal
import sys

import sockjs
from aiohttp import web


async def echo(manager, session, msg):
    if msg.type == sockjs.MsgType.MESSAGE:
        session.send(msg.data)


async def broadcast(manager, session, msg):
    if msg.type == sockjs.MsgType.MESSAGE:
        manager.broadcast(msg.data)  # every live session of this endpoint's manager


def raise_nofile_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main(port):
    app = web.Application()
    sockjs.add_endpoint(app, echo, name="echo", prefix="/echo")
    sockjs.add_endpoint(app, broadcast, name="broadcast", prefix="/broadcast")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]
    print(f"aiohttp-sockjs listening on http://127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    raise_nofile_limit()
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
