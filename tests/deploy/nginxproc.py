"""A real nginx running examples/nginx.conf in front of real backends, for the tests.

``render_config`` turns the example into the file a test runs: ``listen``
on a free loopback port, the upstream ``server`` lines pointing at the
backends, temporary files in the test's own directory. Nothing else of the
example changes, so the tests exercise the file users copy. With
``several_machines=True`` the commented "Several machines" block (the
``map $uri`` and the upstream hashing the server_id) replaces the
one-machine upstream, as its comment tells users to do.

``start_nginx`` runs ``nginx -p TMPDIR -c TMPDIR/nginx.conf -g 'daemon off;
master_process on; pid ...; error_log stderr;'`` (no system service, no
files outside TMPDIR) and waits until its port accepts connections;
``RunningNginx.stop`` sends SIGTERM and waits.

Backends are factories of ``RunningServer`` (testkit/serverproc.py) taking the
test server's options as keywords: ``BACKENDS`` names them,
``TESTED_BACKENDS`` are those the nginx tests run on, and
``nginx_in_front(name)`` starts one behind nginx for a fixture.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from testkit.rawhttp import http
from testkit.redisservers import free_port  # below the ephemeral range: no outgoing connection takes it meanwhile
from testkit.serverproc import (
    ROOT,
    START_TIMEOUT,
    RunningServer,
    poll_until,
    spawn,
    start_gunicorn,
    start_testserver,
    stop_process,
)

EXAMPLE_CONF = os.path.join(ROOT, "examples", "nginx.conf")
GUNICORN_CONF = os.path.join(ROOT, "examples", "gunicorn.conf.py")
#: What nginx answers under: every request of the tests goes to loopback.
HOST = "127.0.0.1"

_LISTEN = re.compile(r"^([ \t]*)listen\s+[^;]+;", re.M)
_UPSTREAM_BLOCK = re.compile(r"^([ \t]*)upstream sockjs \{\n.*?^\1\}\n", re.M | re.S)
_SERVER_LINES = re.compile(r"^([ \t]*)server \d+\.\d+\.\d+\.\d+:\d+;\n(?:\1server \d+\.\d+\.\d+\.\d+:\d+;\n)*", re.M)
_MACHINES_BLOCK = re.compile(
    r"^[ \t]*#map \$uri .*?^[ \t]*#\}\n.*?^[ \t]*#upstream sockjs \{\n.*?^[ \t]*#\}\n", re.M | re.S
)


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found is None:
        raise RuntimeError("nginx not found: it is in scripts/apt-packages.txt, run `bash scripts/bootstrap.sh`")
    return found


def nginx_version() -> str:
    """``nginx/1.22.1`` or the like (nginx -v prints it on stderr)."""
    done = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True, timeout=10)
    return (done.stderr or done.stdout).strip().rpartition(" ")[2]


def render_config(
    example: str, port: int, upstreams: Sequence[tuple[str, int]], tmpdir: str, several_machines: bool = False
) -> str:
    """The example config, listening on ``HOST:port`` and proxying to ``upstreams``.

    One upstream replaces the example's ``server 127.0.0.1:8000``; with
    ``several_machines`` the commented block becomes the upstream and its
    ``server`` lines become one per upstream. Temporary files go under
    ``tmpdir``; as root, the workers keep running as root (they could not
    enter a tmpdir only root may read).
    """
    text = example
    text, listens = _LISTEN.subn(lambda m: f"{m.group(1)}listen {HOST}:{port};", text)
    assert listens == 1, f"expected one listen line in {EXAMPLE_CONF}, found {listens}"
    if several_machines:
        block = _MACHINES_BLOCK.search(text)
        assert block is not None, f"no commented 'map $uri' + 'upstream sockjs' block in {EXAMPLE_CONF}"
        uncommented = re.sub(r"^([ \t]*)#", r"\1", block.group(0), flags=re.M)
        text = text[: block.start()] + uncommented + text[block.end() :]
        text, removed = _UPSTREAM_BLOCK.subn("", text, count=1)  # the first one: the one-machine upstream
        assert removed == 1
        assert "hash $sockjs_server_id consistent;" in text
    elif len(upstreams) != 1:
        raise ValueError("one machine has one upstream; several_machines=True for more")
    servers = "".join(f"{{indent}}server {host}:{p};\n" for host, p in upstreams)
    text, replaced = _SERVER_LINES.subn(lambda m: servers.format(indent=m.group(1)), text, count=1)
    assert replaced == 1, f"no upstream server line in {EXAMPLE_CONF}"
    temp = "".join(
        f"    {name}_temp_path {os.path.join(tmpdir, name + '_temp')};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text, http_blocks = re.subn(r"^http \{\n", lambda m: m.group(0) + temp, text, flags=re.M)
    assert http_blocks == 1
    if os.geteuid() == 0:
        text = "user root;\n" + text
    return text


def _accepts(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=1.0).close()
    except OSError:
        return False
    return True


@dataclass
class RunningNginx(RunningServer):
    """nginx as a RunningServer (host, port, url(), log()), plus its directory and backends."""

    tmpdir: str = ""
    config: str = ""
    backends: list[RunningServer] = field(default_factory=list)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (fast shutdown: open streams and WebSockets would hold a graceful one); then the directory goes."""
        status = stop_process(self.process, timeout)
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        return status


def start_nginx(
    upstreams: Sequence[tuple[str, int]], several_machines: bool = False, edit: Callable[[str], str] | None = None
) -> RunningNginx:
    """nginx with the rendered example on a free loopback port; returns once the port accepts connections.

    ``edit`` may change the rendered text further (a test that turns one
    setting off to show what it is for).
    """
    binary = nginx_binary()
    with open(EXAMPLE_CONF) as f:
        example = f.read()
    failures = []
    for _attempt in range(3):  # the free port may be taken before nginx binds it
        tmpdir = tempfile.mkdtemp(prefix="sockjs-nginx-")
        os.mkdir(os.path.join(tmpdir, "logs"))  # the default access log, under the -p prefix
        port = free_port()
        text = render_config(example, port, upstreams, tmpdir, several_machines)
        if edit is not None:
            text = edit(text)
        conf = os.path.join(tmpdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(text)
        globals_ = f"daemon off; master_process on; pid {os.path.join(tmpdir, 'nginx.pid')}; error_log stderr;"
        process, out = spawn([binary, "-e", "stderr", "-p", tmpdir + os.sep, "-c", conf, "-g", globals_], root=tmpdir)
        running = RunningNginx(process, HOST, port, out, tmpdir=tmpdir, config=text)
        try:
            poll_until(
                lambda p=process, at=port: p.poll() is not None or _accepts(at), START_TIMEOUT, "nginx to listen"
            )
        except AssertionError:
            running.stop()
            raise RuntimeError("nginx did not start listening:\n" + out.text()) from None
        if process.poll() is None:
            return running
        out.wait_ended()
        failures.append(out.text())
        running.stop()
        if "Address already in use" not in out.text():
            break
    raise RuntimeError("nginx did not start:\n" + "\n".join(failures))


# --- backends ----------------------------------------------------------------------------------

#: ``factory(sockjs_url=None, allowed_origins=()) -> RunningServer``: the test services on a loopback port.
BackendFactory = Callable[..., RunningServer]


def testserver_backend(sockjs_url: str | None = None, allowed_origins: Sequence[str] = ()) -> RunningServer:
    """``python -m sockjs_gevent.testserver`` (one process)."""
    args: list[str] = []
    if sockjs_url:
        args += ["--sockjs-url", sockjs_url]
    for origin in allowed_origins:
        args += ["--allowed-origin", origin]
    return start_testserver(*args)


def gunicorn_available() -> bool:
    """Whether sockjs_gevent's gunicorn worker class and gunicorn itself are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("gunicorn", "sockjs_gevent.gunicorn"))


def gunicorn_backend(
    sockjs_url: str | None = None, allowed_origins: Sequence[str] = (), workers: int = 3
) -> RunningServer:
    """gunicorn with examples/gunicorn.conf.py (sockjs_gevent's worker class), ``workers`` workers sharing one port,
    serving the test services."""
    kwargs = []
    if sockjs_url:
        kwargs.append(f"sockjs_url={sockjs_url!r}")
    if allowed_origins:
        kwargs.append(f"allowed_origins={list(allowed_origins)!r}")
    # examples/gunicorn.conf.py, as examples/nginx.conf tells users (its keepalive outlasts
    # nginx's upstream keepalive_timeout); no control socket: its default path is one per user.
    options = ["-c", GUNICORN_CONF, "-w", str(workers), "--bind", f"{HOST}:0", "--no-control-socket"]
    return start_gunicorn([*options, f"sockjs_gevent.testserver:build({', '.join(kwargs)})"], workers)


BACKENDS: dict[str, BackendFactory] = {
    "testserver": testserver_backend,
    "gunicorn-w3": gunicorn_backend,
}


#: The backends the nginx tests (tests/deploy/test_nginx.py, tests/e2e/test_browser_nginx.py) run behind
#: nginx: one process, and gunicorn with three workers handing sessions' requests to each other.
TESTED_BACKENDS = ["testserver", "gunicorn-w3"]


def available_backends() -> list[str]:
    """TESTED_BACKENDS this machine can run (gunicorn-w3 needs sockjs_gevent.gunicorn and gunicorn)."""
    return [name for name in TESTED_BACKENDS if name != "gunicorn-w3" or gunicorn_available()]


@contextlib.contextmanager
def nginx_in_front(
    backend: str | BackendFactory = "testserver", count: int = 1, **options: object
) -> Iterator[RunningNginx]:
    """``count`` backends (a BACKENDS name or a factory, given ``options``) behind the example config.

    With more than one, the config is the several-machines form. Yields
    nginx (``.backends`` are the backends); stops everything after.
    """
    factory = BACKENDS[backend] if isinstance(backend, str) else backend
    started: list[RunningServer] = []
    nginx: RunningNginx | None = None
    try:
        for _ in range(count):
            started.append(factory(**options))
        nginx = start_nginx([(b.host, b.port) for b in started], several_machines=count > 1)
        nginx.backends = started
        yield nginx
    finally:
        if nginx is not None:
            nginx.stop()
        for b in started:
            b.stop()


#: Lines of a log that mean something went wrong ([warn] and up for nginx).
NGINX_PROBLEM = re.compile(r"\[(warn|error|crit|alert|emerg)\]")
BACKEND_PROBLEM = re.compile(r"Traceback|\b(ERROR|CRITICAL|WARNING)\b")


def problems(nginx: RunningNginx, since: dict[int, int] | None = None) -> list[str]:
    """Problem lines nginx and its backends logged (after the line counts of ``mark``)."""
    found = []
    for proc, pattern in [(nginx, NGINX_PROBLEM)] + [(b, BACKEND_PROBLEM) for b in nginx.backends]:
        start = (since or {}).get(id(proc), 0)
        found += [f"{proc.port}: {line.rstrip()}" for line in proc.output[start:] if pattern.search(line)]
    return found


def mark(nginx: RunningNginx) -> dict[int, int]:
    """Where each log of nginx and its backends ends now (for ``problems(nginx, since=...)``)."""
    return {id(proc): len(proc.output) for proc in [nginx, *nginx.backends]}


def wait_answers(nginx: RunningNginx, path: str = "/echo/info", timeout: float = START_TIMEOUT) -> None:
    """Poll ``path`` through nginx until it answers 200 (the backends behind it are up)."""

    def answers() -> bool:
        try:
            return http(nginx, "GET", path, timeout=2.0)[0] == 200
        except OSError:
            return False

    poll_until(answers, timeout, f"nginx to answer {path}")
