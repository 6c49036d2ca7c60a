"""What the command lines share: ``python -m sockjs_gevent``, the test server, the cluster runner, ``--workers``.

The parser class (a mistake is one line and exit status 2: ``UsageError``),
argparse types whose errors say what was expected, the flag groups (the
HTTP server's, ``--workers``, the service options made from ``Options``),
and ``serve()`` for a command line. Each command's own flags and ``main()``
stay in its module (``__main__``, ``testserver``, ``cluster``).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import re
import socket
import ssl
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any, NoReturn

from .compression import Compression
from .handoff import SlotError
from .http import ConfigError
from .options import Options, OptionsError
from .server import LOG_LEVELS, SERVERS, WSGIApp, print_ready, serve
from .workers import Runner, worker_listener

#: (A worker's "serving" line has always been the server module's.)
log = logging.getLogger("sockjs_gevent.server")

# --- the parser ------------------------------------------------------------------------------------------


class UsageError(Exception):
    """A mistake on a command line: printed as one line on stderr, exit status 2."""


class CommandLineParser(argparse.ArgumentParser):
    """argparse's parser, except that a mistake is one line ``PROG: error: MESSAGE`` and exit status 2.

    (argparse prints the whole usage first, dozens of lines here; ``--help`` shows it.) A description
    taken from a module docstring is shown as plain text (``plain_text``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("description"):
            kwargs["description"] = plain_text(kwargs["description"])
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def plain_text(docstring: str) -> str:
    """A docstring for a terminal: reStructuredText's double backticks around code dropped."""
    return re.sub(r"``(.+?)``", r"\1", docstring, flags=re.S)


# --- argparse types: a value in its range, or a one-line error saying what was expected ------------------


def whole_number(expected: str, minimum: int, out_of_range: str, maximum: int | None = None) -> Callable[[str], int]:
    """A type parsing an int from ``minimum`` to ``maximum``; errors say ``expected ...`` or ``out_of_range``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{out_of_range}, got {value}")
        return value

    return parse


port_number = whole_number("a port number", 0, "a port is 0 to 65535 (0 picks a free one)", 65535)
positive_int = whole_number("a whole number", 1, "must be at least 1")
byte_count = whole_number("a number of bytes", 0, "must be 0 or more bytes")
buffered_bytes = whole_number("a number of bytes", 1024 * 1024, "must be at least 1 MiB (1048576)")


def positive_seconds(text: str) -> float:
    """A type parsing a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:  # (also refuses nan)
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def log_level(text: str) -> str:
    """An argparse type: a logging level name (any case), as logging knows it."""
    if text.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(LOG_LEVELS)}, got {text!r}")
    return text.upper()


# --- the HTTP server's flags -----------------------------------------------------------------------------


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """The HTTP server's flags (and ``--workers``), shared by ``python -m sockjs_gevent`` and the test server."""
    group = parser.add_argument_group("HTTP server")
    group.add_argument(
        "--server",
        choices=SERVERS,
        default="httptools",
        help="httptools: sockjs_gevent's own HTTP/1.1 server (default); pywsgi: gevent's WSGIServer",
    )
    group.add_argument(
        "--request-timeout",
        type=positive_seconds,
        default=30.0,
        help="seconds a client may stall a request: head, body, writes, idle keep-alive (default 30)",
    )
    group.add_argument(
        "--max-body-size",
        type=byte_count,
        default=None,
        help="request bodies larger than this many bytes get 413 (httptools server only)",
    )
    group.add_argument("--certfile", help="PEM certificate chain: serve HTTPS")
    group.add_argument("--keyfile", help="PEM private key of --certfile (if not inside it)")
    group.add_argument(
        "--access-log",
        nargs="?",
        const="-",
        default=None,
        metavar="PATH",
        help="one combined-format line per request, to PATH or (without PATH) to stderr",
    )
    group.add_argument(
        "--max-buffered-bytes",
        type=buffered_bytes,
        default=None,
        metavar="BYTES",
        help="client data the process may hold in all inboxes and outboxes together; past it sends get "
        "503, websockets pause, new sessions 1013 (default 512 MiB, or $SOCKJS_GEVENT_MAX_BUFFERED_BYTES)",
    )
    add_worker_arguments(parser)


def check_server_arguments(args: argparse.Namespace) -> None:
    """UsageError for server options that cannot work: --keyfile alone, TLS files that do not load.

    The files are loaded here, before anything listens: gevent's pywsgi
    would only load them per connection, failing every handshake.
    """
    if args.keyfile and not args.certfile:
        raise UsageError("--keyfile needs --certfile")
    if args.certfile:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(args.certfile, args.keyfile)
        except ssl.SSLError as exc:
            files = " and ".join(f for f in (args.certfile, args.keyfile) if f)
            raise UsageError(
                f"--certfile: {files} is not a PEM certificate chain with its private key ({exc.reason or exc})"
            ) from None
        except OSError as exc:
            raise UsageError(
                f"--certfile: cannot read {args.certfile}{' or ' + args.keyfile if args.keyfile else ''}: "
                f"{exc.strerror or exc}"
            ) from None


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    """serve() keywords from the arguments add_server_arguments() added (UsageError for ones that cannot work)."""
    check_server_arguments(args)
    options: dict[str, Any] = {"server": args.server, "request_timeout": args.request_timeout}
    if args.max_body_size is not None:
        options["max_body_size"] = args.max_body_size
    if args.certfile:
        options["certfile"] = args.certfile
        options["keyfile"] = args.keyfile
    if args.access_log is not None:
        options["access_log"] = args.access_log
    if args.max_buffered_bytes is not None:
        options["max_buffered_bytes"] = args.max_buffered_bytes
    options.update(worker_listener(args))
    return options


# --- --workers -------------------------------------------------------------------------------------------


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    """``--workers``, and the hidden flags by which the runner starts each worker (see ``sockjs_gevent.workers``)."""
    group = parser.add_argument_group("workers")
    group.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="worker processes sharing the port; a session's requests reach its worker (default 1)",
    )
    group.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)
    group.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)  # see workers.announce_ready


def is_runner(args: argparse.Namespace) -> bool:
    """Whether this process should run workers rather than serve itself."""
    return args.workers > 1 and args.listen_fd is None


def check_worker_arguments(args: argparse.Namespace) -> str | None:
    """What is wrong with --workers beside the other options (one line), or None."""
    if args.workers > 1 and getattr(args, "server", "httptools") != "httptools":
        return "--workers needs the httptools server (hand-off between workers is built into it)"
    if args.workers > 1 and (getattr(args, "certfile", None) or getattr(args, "keyfile", None)):
        return (
            "--workers with --certfile cannot work: a TLS connection cannot move to another worker; "
            "terminate TLS in front (nginx) or run one worker"
        )
    return None


def run_workers(module: str, argv: Sequence[str], args: argparse.Namespace, ready: Any = None) -> int:
    """Bind ``args.host:args.port`` and run ``args.workers`` of ``python -m module ARGV`` on it; the exit status.

    What keeps it from starting (the address, the slot directory) raises
    ``UsageError`` with one line, as the one-process server does.
    """
    listener = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((args.host, args.port))
        listener.listen(getattr(args, "backlog", None) or 1024)
    except (OSError, OverflowError) as exc:
        listener.close()
        raise UsageError(listen_failure(exc, args.host, args.port)) from None
    listener.set_inheritable(True)
    try:
        runner = Runner([sys.executable, "-m", module, *argv], args.workers, listener)
    except SlotError as exc:
        listener.close()
        raise UsageError(f"hand-off slots: {exc}") from None
    return runner.run(ready)


# --- the service options (sockjs_gevent.Options) ---------------------------------------------------------


def add_option_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line flags for the service options, made from ``Options`` (none can be missing).

    ``--heartbeat-delay 10``, ``--max-sessions 500``, ``--allowed-origin
    https://app.example`` (repeatable), ``--no-websocket``, ``--jsessionid``...
    Every flag defaults to unset: the option keeps its own default.
    """
    # What each option is, in one phrase (the Options docstring says more).
    what = {
        "response_limit": "bytes a streaming response carries before the client is made to open a new one",
        "heartbeat_delay": "seconds of silence before the server sends a heartbeat",
        "disconnect_delay": "seconds a session lives with no request attached",
        "sockjs_url": "where the iframe page loads sockjs-client from",
        "max_message_size": "largest client message in bytes: bigger closes a websocket (1009), an HTTP send gets 413",
        "max_queued_bytes": "bytes a session may hold for a client that is not reading; past it, closed with 1008",
        "max_inbox_bytes": "bytes of client data that may wait for a slower handler, at least --max-message-size",
        "max_sessions": "sessions the service holds at once, more are refused with 1013; 0: no limit",
        "handler_close_timeout": "seconds a handler may run on after its session closed before it is stopped; 0: never",
    }

    def default(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:g}"
        if isinstance(value, int) and value >= 1024 and value % 1024 == 0:
            size = f"{value // 1024 // 1024} MiB" if value % (1024 * 1024) == 0 else f"{value // 1024} KiB"
            return f"{value}: {size}"
        return str(value)

    group = parser.add_argument_group("service options (when TARGET is a handler; see sockjs_gevent.Options)")
    for f in fields(Options):
        if f.name in ("prefix", "jsessionid", "websocket", "allowed_origins", "websocket_compression"):
            continue
        kind = float if f.type in ("float", float) else int if f.type in ("int", int) else str
        phrase = what.get(f.name, f.name.replace("_", " "))
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f"option_{f.name}",
            type=kind,
            default=None,
            metavar=kind.__name__.upper(),
            help=f"{phrase} (default {default(f.default)})",
        )
    group.add_argument(
        "--allowed-origin",
        dest="option_allowed_origins",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="a page origin (pattern) that may use the service; repeatable (default: any page)",
    )
    group.add_argument(
        "--jsessionid",
        dest="option_jsessionid",
        action="store_const",
        const=True,
        default=None,
        help="send the JSESSIONID cookie for cookie-sticky load balancers",
    )
    group.add_argument(
        "--no-websocket",
        dest="option_websocket",
        action="store_const",
        const=False,
        default=None,
        help="turn the websocket transports off",
    )
    group.add_argument(
        "--websocket-compression",
        dest="option_websocket_compression",
        nargs="?",
        const="",
        default=None,
        metavar="SETTINGS",
        help="permessage-deflate for clients that offer it (default off); SETTINGS are "
        "comma-separated sockjs_gevent.Compression fields, e.g. "
        "server_max_window_bits=10,server_no_context_takeover,client_no_context_takeover",
    )


def options_from_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The options that ``add_option_arguments`` flags set (the unset ones left out).

    Raises OptionsError for compression settings that do not parse.
    """
    prefix = "option_"
    options = {k[len(prefix) :]: v for k, v in vars(args).items() if k.startswith(prefix) and v is not None}
    if "websocket_compression" in options:
        try:
            options["websocket_compression"] = Compression.parse(options["websocket_compression"])
        except OptionsError as exc:
            raise OptionsError(f"--websocket-compression: {exc}") from None
    return options


# --- serving ---------------------------------------------------------------------------------------------


def listen_failure(exc: BaseException, host: str, port: int) -> str:
    """One line for an error that kept a server from listening on ``host:port`` (bind, name, file)."""
    if isinstance(exc, socket.gaierror):
        why = re.sub(r": \(.*\)$", "", str(exc.strerror))  # (gevent appends the address)
        return f"cannot listen on {host}:{port}: no such host or address ({why})"
    if isinstance(exc, OSError) and exc.filename is not None:  # a file the server opens (an access log)
        return f"cannot open {exc.filename}: {exc.strerror}"
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"cannot listen on {host}:{port}: the address is in use (another server?); pick --port"
    why = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else str(exc)
    return f"cannot listen on {host}:{port}: {why}"


def serve_command(app: WSGIApp, host: str, port: int, **kwargs: Any) -> None:
    """``serve()`` for a command line: what keeps it from starting (an address that cannot be bound or
    does not resolve, a file it cannot open, a bad limit) is a UsageError of one line.

    Once the server listens (its ``ready`` callback ran), errors propagate as they are.
    """
    ready = kwargs.pop("ready", None) or print_ready
    listening: list[Any] = []

    def on_ready(server: Any) -> None:
        listening.append(server)
        ready(server)

    try:
        serve(app, host, port, ready=on_ready, **kwargs)
    except ConfigError as exc:
        if listening:
            raise
        raise UsageError(str(exc)) from None
    except (OSError, OverflowError) as exc:
        if listening:
            raise
        raise UsageError(listen_failure(exc, host, port)) from None


def ready_callback(args: argparse.Namespace) -> Callable[[Any], None]:
    """``print_ready``, except in a worker of ``--workers`` (the runner prints the one ready line)."""
    if getattr(args, "listen_fd", None) is not None:
        return lambda server: log.info("worker %d serving", os.getpid())
    return print_ready
