"""The conformance services of docs/protocol.md section 11 on one port.

    python -m sockjs_gevent.testserver --port 8081 [--sockjs-url URL]

Also: ``/rooms`` (a room where each message goes to everyone else, and
``to ID TEXT`` to one connection), ``/cookie_callable_echo`` (jsessionid as a callable), ``/crash`` (the
handler raises on any message), ``/stubborn`` (the handler never reads
nor returns), ``/returns`` (returns at once), ``/whoami`` (reports the connection info)
and ``/origin_echo`` (echo for http://allowed.example and
https://*.trusted.example:* pages only); ``GET /stats`` gives every
service's counters as JSON, ``GET /metrics`` the same for Prometheus
(with prometheus_client installed). With ``SOCKJS_GEVENT_REDIS_URL`` set,
``/broadcast`` reaches the members on every server sharing that Redis.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from typing import Any, Sequence

import gevent


from . import Connection, Router, SockJS, channels
from .channels.hub import REDIS_URL_ENV
from .options import DEFAULT_SOCKJS_URL
from .responses import not_found
from .server import print_ready, serve
from .stats import stats_app


def echo(conn: Connection) -> None:
    for message in conn:
        conn.send(message)


def close(conn: Connection) -> None:
    conn.close(3000, "Go away!")


def returns(conn: Connection) -> None:
    """Returns at once: the session closes with the default 1000."""


def ticker(conn: Connection) -> None:
    """``tick!`` every second, whatever the client sends meanwhile."""
    next_tick = time.monotonic() + 1.0
    while not conn.closed:
        try:
            conn.recv(timeout=max(0.0, next_tick - time.monotonic()))
        except TimeoutError:
            conn.send("tick!")
            next_tick += 1.0


def amplify(conn: Connection) -> None:
    for message in conn:
        try:
            n = int(message)
        except ValueError:
            n = 1
        if not 0 < n <= 18:
            n = 1
        conn.send("x" * 2**n)


def broadcast(conn: Connection) -> None:
    """Every message to every open connection of the service."""
    everyone = channels.channel("testserver-broadcast")
    everyone.join(conn)
    for message in conn:
        everyone.publish(message)


def rooms(conn: Connection) -> None:
    """Channel conveniences: each message to everyone else in the service's room;
    ``id?`` answers ``id <conn.id>``; ``to ID TEXT`` sends TEXT to that connection only."""
    room = conn.channel("room")
    room.join(conn)
    for message in conn:
        if message == "id?":
            conn.send("id " + conn.id)
        elif message.startswith("to "):
            _, target, text = (message.split(" ", 2) + ["", ""])[:3]
            channels.send_to(target, text)
        else:
            room.publish(message, exclude=conn)


def crash(conn: Connection) -> None:
    for message in conn:
        raise RuntimeError(f"the /crash service fails on purpose (got {message!r})")


def stubborn(conn: Connection) -> None:
    """Never reads, never returns: a handler stuck on something else."""
    conn.send("stuck")
    gevent.sleep(10**6)


def whoami(conn: Connection) -> None:
    conn.send(json.dumps({
        "transport": conn.transport,
        "remote_addr": conn.remote_addr,
        "path": conn.path,
        "headers": conn.headers,
        "cookies": conn.cookies,
    }))
    echo(conn)


def custom_cookie(environ: Any) -> str:
    return "JSESSIONID=custom; Path=/; HttpOnly"


#: Who may use /origin_echo (more with --allowed-origin).
ORIGIN_ECHO_ALLOWED = ["http://allowed.example", "https://*.trusted.example:*"]


def _metrics_or_why_not(services: Sequence[SockJS]) -> Any:
    """The Prometheus endpoint; without prometheus_client, a 501 that names the extra."""
    from .metrics import metrics_app

    try:
        return metrics_app(*services)
    except ImportError as exc:
        why = f"{exc}\n".encode()

        def unavailable(environ: Any, start_response: Any) -> Any:
            start_response("501 Not Implemented", [("Content-Type", "text/plain; charset=UTF-8"),
                                                   ("Content-Length", str(len(why)))])
            return [why]

        return unavailable


def build(sockjs_url: str = DEFAULT_SOCKJS_URL, allowed_origins: Sequence[str] = (), **common: Any) -> Router:
    """The test services, with ``common`` options applied to each.

    ``allowed_origins`` are added to those /origin_echo allows.
    """
    common["sockjs_url"] = sockjs_url
    services = [
        SockJS(echo, "/echo", response_limit=4096, **common),
        SockJS(echo, "/disabled_websocket_echo", websocket=False, **common),
        SockJS(echo, "/cookie_needed_echo", jsessionid=True, **common),
        SockJS(echo, "/cookie_callable_echo", jsessionid=custom_cookie, **common),
        SockJS(close, "/close", **common),
        SockJS(ticker, "/ticker", **common),
        SockJS(amplify, "/amplify", **common),
        SockJS(broadcast, "/broadcast", **common),
        SockJS(rooms, "/rooms", **common),
        SockJS(crash, "/crash", **common),
        SockJS(whoami, "/whoami", **common),
        SockJS(stubborn, "/stubborn", **common),
        SockJS(returns, "/returns", **common),
        SockJS(echo, "/origin_echo", allowed_origins=[*ORIGIN_ECHO_ALLOWED, *allowed_origins], **common),
    ]
    stats = stats_app(*services)
    metrics = _metrics_or_why_not(services)

    def fallback(environ: Any, start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/stats":
            return stats(environ, start_response)
        if environ.get("PATH_INFO") == "/metrics":
            return metrics(environ, start_response)
        return not_found(environ, start_response)

    return Router(services, fallback=fallback)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--freeze-gc", action="store_true",
                        help="freeze what survives each full GC pass: short pauses with many sessions (see sockjs_gevent.gcfreeze)")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--sockjs-url", default=DEFAULT_SOCKJS_URL, help="where the iframe page loads sockjs-client")
    parser.add_argument("--heartbeat-delay", type=float, default=25.0, help="seconds (all services)")
    parser.add_argument("--disconnect-delay", type=float, default=5.0, help="seconds (all services)")
    parser.add_argument("--request-timeout", type=float, default=30.0, help="seconds a client may stall a request")
    parser.add_argument("--max-queued-bytes", type=int, default=4 * 1024 * 1024, help="per-session outgoing bound (all services)")
    parser.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN",
                        help="also allow this origin (pattern) on /origin_echo; repeatable")
    parser.add_argument("--max-inbox-bytes", type=int, default=4 * 1024 * 1024, help="per-session incoming bound (all services)")
    parser.add_argument("--max-sessions", type=int, default=0, help="per-service session limit, 0 for none (all services)")
    parser.add_argument("--gevent-websocket", action="store_true",
                        help="run under gevent-websocket's handler instead of sockjs_gevent's (compatibility check)")
    parser.add_argument("--plain-pywsgi", action="store_true",
                        help="run under gevent's stock pywsgi handler instead of sockjs_gevent's (compatibility check)")
    args = parser.parse_args(argv)
    if os.environ.get(REDIS_URL_ENV):
        # /broadcast then goes through Redis, whose client needs cooperative sockets.
        from gevent import monkey

        monkey.patch_all()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = build(
        args.sockjs_url,
        args.allowed_origin,
        heartbeat_delay=args.heartbeat_delay,
        disconnect_delay=args.disconnect_delay,
        max_queued_bytes=args.max_queued_bytes,
        max_inbox_bytes=args.max_inbox_bytes,
        max_sessions=args.max_sessions,
    )
    extra: dict[str, Any] = {"request_timeout": args.request_timeout}
    if args.gevent_websocket:
        from geventwebsocket.handler import WebSocketHandler

        extra["handler_class"] = WebSocketHandler
    elif args.plain_pywsgi:
        from gevent.pywsgi import WSGIHandler

        extra["handler_class"] = WSGIHandler
    serve(app, args.host, args.port, ready=print_ready, **extra, freeze_gc=args.freeze_gc)


if __name__ == "__main__":
    main()
