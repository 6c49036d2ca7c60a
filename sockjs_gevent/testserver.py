"""The conformance services of docs/protocol.md section 11 on one port.

    python -m sockjs_gevent.testserver --port 8081 [--sockjs-url URL]

Also: ``/rooms`` (a room where each message goes to everyone else, and
``to ID TEXT`` to one connection), ``/cookie_callable_echo`` (jsessionid as a callable), ``/crash`` (the
handler raises on any message), ``/stubborn`` (the handler never reads
nor returns), ``/returns`` (returns at once), ``/whoami`` (reports the connection info)
and ``/origin_echo`` (echo for http://allowed.example and
https://*.trusted.example:* pages only); ``/multiplex`` carries the streams
of ``MULTIPLEX`` (websocket-multiplex format); ``GET /stats`` gives every
service's counters as JSON, ``GET /metrics`` the same for Prometheus
(with prometheus_client installed). With ``SOCKJS_GEVENT_REDIS_URL`` set,
``/broadcast`` reaches the members on every server sharing that Redis.
``--websocket-compression [SETTINGS]`` turns permessage-deflate on for
every service.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

import gevent
from gevent.event import Event

from . import Connection, Router, SockJS, channels
from .buildinfo import version_line
from .cli import (
    CommandLineParser,
    UsageError,
    add_server_arguments,
    check_server_arguments,
    check_worker_arguments,
    is_runner,
    port_number,
    positive_int,
    ready_callback,
    run_workers,
    serve_command,
    server_options,
)
from .compression import Compression
from .multiplex import DEFAULT_MAX_STREAMS, Multiplexer, Stream
from .options import DEFAULT_SOCKJS_URL, OptionsError
from .responses import not_found
from .server import LOG_FORMAT
from .stats import stats_app
from .workers import announce_ready, runner_ready


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
    conn.send(
        json.dumps(
            {
                "transport": conn.transport,
                "remote_addr": conn.remote_addr,
                "path": conn.path,
                "query": conn.environ.get("QUERY_STRING", ""),
                "headers": conn.headers,
                "cookies": conn.cookies,
            }
        )
    )
    echo(conn)


# --- /multiplex: streams for the multiplexing tests ----------------------------------

#: The channel on which stream handlers of /multiplex report how they closed.
STREAM_EVENTS = "stream-events"


def _echo_stream(stream: Stream, transform: Any = str) -> None:
    """Echo (through ``transform``); ``unsubscribe me`` makes the server close the stream.

    A message ``tag TAG`` names the stream for the ``events`` stream, which
    hears ``closed TAG NAME CODE REASON`` when it ends.
    """
    tag = None
    for message in stream:
        if message.startswith("tag "):
            tag = message[4:]
        if message == "unsubscribe me":
            stream.close(3000, "Server unsubscribed")
        else:
            stream.send(transform(message))
    if tag is not None:
        stream.channel(STREAM_EVENTS).publish(f"closed {tag} {stream.name} {stream.close_code} {stream.close_reason}")


def stream_echo(stream: Stream) -> None:
    _echo_stream(stream)


def stream_shout(stream: Stream) -> None:
    _echo_stream(stream, str.upper)


def stream_events(stream: Stream) -> None:
    """Hears how the other streams of the service closed (see ``_echo_stream``)."""
    stream.channel(STREAM_EVENTS).join(stream)
    stream.send("listening")
    for _ in stream:
        pass


def stream_kick(stream: Stream) -> None:
    """On any message, closes the whole SockJS connection with 3001 "Kicked"."""
    if stream.recv() is not None:
        stream.connection.close(3001, "Kicked")


def stream_crash(stream: Stream) -> None:
    for message in stream:
        raise RuntimeError(f"the crash stream fails on purpose (got {message!r})")


def stream_stubborn(stream: Stream) -> None:
    """Never reads (so its inbox fills); returns once the stream is closed."""
    closed = Event()
    stream.on_close(lambda s: closed.set())
    stream.send("stuck")
    closed.wait()


def stream_whoami(stream: Stream) -> None:
    stream.send(json.dumps({"name": stream.name, "transport": stream.transport, "path": stream.path}))
    _echo_stream(stream)


#: The streams of /multiplex.
MULTIPLEX = {
    "echo": stream_echo,
    "shout": stream_shout,
    "events": stream_events,
    "kick": stream_kick,
    "crash": stream_crash,
    "stubborn": stream_stubborn,
    "whoami": stream_whoami,
}


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
            start_response(
                "501 Not Implemented",
                [("Content-Type", "text/plain; charset=UTF-8"), ("Content-Length", str(len(why)))],
            )
            return [why]

        return unavailable


def build(
    sockjs_url: str = DEFAULT_SOCKJS_URL,
    allowed_origins: Sequence[str] = (),
    max_streams: int = DEFAULT_MAX_STREAMS,
    **common: Any,
) -> Router:
    """The test services, with ``common`` options applied to each.

    ``allowed_origins`` are added to those /origin_echo allows;
    ``max_streams`` is /multiplex's.
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
        SockJS(Multiplexer(MULTIPLEX, max_streams=max_streams), "/multiplex", **common),
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


def parser() -> argparse.ArgumentParser:
    parser = CommandLineParser(
        prog="python -m sockjs_gevent.testserver",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=version_line())
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--freeze-gc",
        action="store_true",
        help="freeze what survives each full GC pass: short pauses with many sessions (see sockjs_gevent.gcfreeze)",
    )
    parser.add_argument("--port", type=port_number, default=8081, help="0 picks a free port")
    parser.add_argument("--sockjs-url", default=DEFAULT_SOCKJS_URL, help="where the iframe page loads sockjs-client")
    parser.add_argument("--heartbeat-delay", type=float, default=25.0, help="seconds (all services)")
    parser.add_argument("--disconnect-delay", type=float, default=5.0, help="seconds (all services)")
    parser.add_argument(
        "--max-queued-bytes", type=int, default=4 * 1024 * 1024, help="per-session outgoing bound (all services)"
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="also allow this origin (pattern) on /origin_echo; repeatable",
    )
    parser.add_argument(
        "--max-inbox-bytes", type=int, default=4 * 1024 * 1024, help="per-session incoming bound (all services)"
    )
    parser.add_argument(
        "--max-sessions", type=int, default=0, help="per-service session limit, 0 for none (all services)"
    )
    parser.add_argument(
        "--handler-close-timeout",
        type=float,
        default=60.0,
        help="seconds a handler may run on after its session closed (all services; 0: forever)",
    )
    parser.add_argument(
        "--max-streams",
        type=positive_int,
        default=DEFAULT_MAX_STREAMS,
        help="stream handlers per session of /multiplex",
    )
    parser.add_argument(
        "--websocket-compression",
        nargs="?",
        const="",
        default=None,
        metavar="SETTINGS",
        help="permessage-deflate on every service's websockets (all services); SETTINGS as for "
        "python -m sockjs_gevent, e.g. server_no_context_takeover,client_no_context_takeover",
    )
    parser.add_argument(
        "--gevent-websocket",
        action="store_true",
        help="run under gevent-websocket's handler instead of sockjs_gevent's (compatibility check)",
    )
    parser.add_argument(
        "--plain-pywsgi",
        action="store_true",
        help="run under gevent's stock pywsgi handler instead of sockjs_gevent's (compatibility check)",
    )
    add_server_arguments(parser)
    return parser


def build_from_arguments(args: argparse.Namespace, error: Any) -> Router:
    """The test services as the command line's service options say (``error(message)`` on a bad one)."""
    compression = None
    if args.websocket_compression is not None:
        try:
            compression = Compression.parse(args.websocket_compression)
        except OptionsError as exc:
            error(f"--websocket-compression: {exc}")
    try:
        return build(
            args.sockjs_url,
            args.allowed_origin,
            max_streams=args.max_streams,
            heartbeat_delay=args.heartbeat_delay,
            disconnect_delay=args.disconnect_delay,
            max_queued_bytes=args.max_queued_bytes,
            max_inbox_bytes=args.max_inbox_bytes,
            max_sessions=args.max_sessions,
            handler_close_timeout=args.handler_close_timeout,
            websocket_compression=compression,
        )
    except OptionsError as exc:  # e.g. --heartbeat-delay 0
        error(str(exc))
        raise


def gunicorn_app(*argv: str) -> Router:
    """The test services for another server, from the service options of this command line.

    gunicorn -k sockjs_gevent.gunicorn.Worker -w 3 'sockjs_gevent.testserver:gunicorn_app("--heartbeat-delay", "0.1")'
    """
    command = parser()
    args = command.parse_args(list(argv))

    def error(message: str) -> None:
        raise ValueError(message)

    return build_from_arguments(args, error)


def main(argv: list[str] | None = None) -> None:
    command = parser()
    argv = sys.argv[1:] if argv is None else argv
    args = command.parse_args(argv)
    ready = announce_ready(args, ready_callback(args))  # (a worker tells its runner)
    try:
        problem = check_worker_arguments(args)
        if problem:
            raise UsageError(problem)
        # As any program serving SockJS should (python -m sockjs_gevent does):
        # Redis and anything a handler calls must cooperate with the event loop.
        from gevent import monkey

        monkey.patch_all()
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
        app = build_from_arguments(args, command.error)  # (in a runner too: a bad option is its one line)
        if is_runner(args):
            check_server_arguments(args)
            raise SystemExit(run_workers("sockjs_gevent.testserver", argv, args, runner_ready))
        extra = server_options(args)
        if args.gevent_websocket:
            from geventwebsocket.handler import WebSocketHandler

            extra["handler_class"] = WebSocketHandler
            extra["server"] = "pywsgi"
        elif args.plain_pywsgi:
            from gevent.pywsgi import WSGIHandler

            extra["handler_class"] = WSGIHandler
            extra["server"] = "pywsgi"
        serve_command(app, args.host, args.port, ready=ready, **extra, freeze_gc=args.freeze_gc)
    except UsageError as exc:
        command.error(str(exc))


if __name__ == "__main__":
    main()
