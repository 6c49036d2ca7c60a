"""sockjs-tornado 1.0.7 peer for bench/bench.py: SockJS /echo and /broadcast.

    bench/.peers/venv-tornado/bin/python bench/peers/tornado_server.py PORT   (0 picks a free port)

Default SockJSRouter settings; only Tornado's access log is silenced.
Prints ``sockjs-tornado listening on http://127.0.0.1:PORT`` when ready.
"""

import asyncio
import logging
import resource
import signal
import sys

from sockjs.tornado import SockJSConnection, SockJSRouter
from tornado import httpserver, netutil, web


class Echo(SockJSConnection):
    def on_message(self, message):
        self.send(message)


class Broadcast(SockJSConnection):
    members = set()

    def on_open(self, info):
        self.members.add(self)

    def on_message(self, message):
        self.broadcast(self.members, message)

    def on_close(self):
        self.members.discard(self)


def raise_nofile_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main(port):
    routes = SockJSRouter(Echo, "/echo").urls + SockJSRouter(Broadcast, "/broadcast").urls
    app = web.Application(routes, log_function=lambda handler: None)
    sockets = netutil.bind_sockets(port, "127.0.0.1", backlog=1024)
    httpserver.HTTPServer(app).add_sockets(sockets)
    print(f"sockjs-tornado listening on http://127.0.0.1:{sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    raise_nofile_limit()
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
