"""A channel hub in its own process, driven by JSON lines: one worker of the Redis channel tests.

    python -m tests.channels_redis.hubproc --url URL [--backend redis|cluster] [--option key=value ...]

It monkey-patches, builds the backend (``channels.RedisBackend(url,
**options)``, or ``channels.RedisClusterBackend`` with ``--backend
cluster``), makes it the process's hub (``channels.configure``) and, once
the backend says it is connected (or after ``--ready-timeout``), prints
``{"event": "ready", "connected": bool}``.

Then each line on stdin is a command, a JSON object with an ``op`` (and an
optional ``id``), handled one at a time in order; each gets one reply line
``{"reply": op, "id": id, "ok": true, ...}``, or ``"ok": false`` with
``"error": "Type: message"`` (the process goes on). Fake members print
``{"event": "deliver", "member": id, "message": text}`` for what they
receive. Ops: join, leave, close, publish, send_to, presence, members,
connected, stats, flush, ping (see ``Commands``). stdin closed: the hub
stops and the process exits. Logs go to stderr at INFO, with the level.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402 (after the monkey-patching, as every gevent program)
import dataclasses  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from gevent.fileobject import FileObjectPosix  # noqa: E402

from sockjs_gevent import channels  # noqa: E402

log = logging.getLogger("hubproc")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def emit(line: dict[str, Any]) -> None:
    """One JSON line on stdout, flushed (a blocking write: lines never interleave)."""
    sys.stdout.write(json.dumps(line, default=jsonable) + "\n")
    sys.stdout.flush()


def jsonable(value: Any) -> Any:
    """What ``json.dumps`` cannot encode, as something it can (sets, dataclasses, namedtuples, else repr)."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "_asdict"):
        return value._asdict()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)


class FakeMember:
    """A channel member that reports what it receives on stdout (the hub's Member protocol)."""

    def __init__(self, member_id: str) -> None:
        self.id = member_id
        self.closed = False
        self._on_close: list[Callable[[Any], object]] = []

    def on_close(self, callback: Callable[[Any], object]) -> None:
        self._on_close.append(callback)

    def send_quoted(self, message: str, quoted: str) -> bool:
        if self.closed:
            return False
        emit({"event": "deliver", "member": self.id, "message": message})
        return True

    def close(self) -> None:
        """Close as a connection does: once, running the close callbacks."""
        if self.closed:
            return
        self.closed = True
        callbacks, self._on_close = self._on_close, []
        for callback in callbacks:
            callback(self)
        emit({"event": "closed", "member": self.id})

    def __repr__(self) -> str:
        return f"<FakeMember {self.id}>"


class Commands:
    """The ops: each takes the command's fields as keyword arguments and returns the reply's extra fields."""

    def __init__(self, hub: channels.ChannelHub, backend: Any) -> None:
        self.hub = hub
        self.backend = backend
        self.members: dict[str, FakeMember] = {}

    def member(self, member_id: str) -> FakeMember:
        """The member called ``member_id`` (created on first use; a closed one is replaced)."""
        member = self.members.get(member_id)
        if member is None or member.closed:
            member = self.members[member_id] = FakeMember(member_id)
        return member

    def op_join(self, channel: str, member: str, info: Any = None) -> dict[str, Any]:
        """Join, with ``info`` for presence."""
        self.hub.channel(channel).join(self.member(member), info)
        return {}

    def op_leave(self, channel: str, member: str) -> dict[str, Any]:
        self.hub.channel(channel).leave(self.member(member))
        return {}

    def op_close(self, member: str) -> dict[str, Any]:
        self.member(member).close()
        return {}

    def op_publish(self, channel: str, message: str, exclude: str | None = None) -> dict[str, Any]:
        return {"delivered": self.hub.channel(channel).publish(message, exclude=exclude)}

    def op_send_to(self, member: str, message: str) -> dict[str, Any]:
        self.hub.send_to(member, message)
        return {}

    def op_presence(self, channel: str, wait: float = 2.0) -> dict[str, Any]:
        """The channel's presence, asking the backend for at most ``wait`` s (its ``timeout``)."""
        return {"presence": self.hub.channel(channel).presence(timeout=wait)}

    def op_members(self, channel: str) -> dict[str, Any]:
        """This process's members of ``channel``, by id."""
        return {"members": [member.id for member in self.hub.channel(channel).members]}

    def op_connected(self, wait: float = 0.0) -> dict[str, Any]:
        """Whether the backend says it is connected, waiting up to ``wait`` s for it.

        (``wait``, not ``timeout``: ``Hub.call`` keeps ``timeout`` for its own wait for the reply.)
        """
        connected = getattr(self.backend, "connected", None)
        return {"connected": True if connected is None else bool(connected.wait(wait))}

    def op_stats(self) -> dict[str, Any]:
        stats = getattr(self.backend, "stats", None)
        return {"stats": stats() if stats is not None else {}}

    def op_flush(self, timeout: float = 5.0) -> dict[str, Any]:
        return {"flushed": self.hub.flush(timeout)}

    def op_ping(self) -> dict[str, Any]:
        return {}

    def run(self, command: dict[str, Any]) -> dict[str, Any]:
        """The reply to one command (never raises: an error is an ok:false reply)."""
        fields = dict(command)
        op = fields.pop("op", None)
        reply: dict[str, Any] = {"reply": op, "id": fields.pop("id", None)}
        try:
            handler = getattr(self, f"op_{op}", None)
            if handler is None:
                raise ValueError(f"unknown op {op!r}")
            reply.update(handler(**fields), ok=True)
        except (Exception, gevent.Timeout) as exc:  # a bad command must not end the process
            log.warning("command %s failed: %s: %s", op, type(exc).__name__, exc)
            reply.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        return reply


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs as keyword arguments: a value is JSON if it parses as JSON, else the string."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise SystemExit(f"--option wants key=value, got {pair!r}")
        try:
            options[key] = json.loads(text)
        except ValueError:
            options[key] = text
    return options


def build_backend(kind: str, url: str, options: dict[str, Any]) -> Any:
    """``RedisBackend(url, **options)``, or ``RedisClusterBackend`` for ``kind`` "cluster"."""
    backend = channels.RedisClusterBackend if kind == "cluster" else channels.RedisBackend
    return backend(url, **options)


def serve(commands: Commands) -> None:
    """Answer the commands on stdin, in order, until it closes."""
    stdin = FileObjectPosix(sys.stdin.fileno(), "rb", close=False)
    for raw in stdin:
        line = raw.decode("utf-8", "surrogatepass").strip()
        if not line:
            continue
        try:
            command = json.loads(line)
            if not isinstance(command, dict):
                raise ValueError("a command is a JSON object")
        except ValueError as exc:
            emit({"reply": None, "id": None, "ok": False, "error": f"{type(exc).__name__}: {exc}"})
            continue
        emit(commands.run(command))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--backend", choices=("redis", "cluster"), default="redis")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--ready-timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format=LOG_FORMAT)

    backend = build_backend(args.backend, args.url, parse_options(args.option))
    hub = channels.configure(backend)
    connected = getattr(backend, "connected", None)
    emit({"event": "ready", "connected": True if connected is None else bool(connected.wait(args.ready_timeout))})
    try:
        serve(Commands(hub, backend))
    finally:
        log.info("stdin closed: stopping the hub")
        hub.stop()


if __name__ == "__main__":
    main()
