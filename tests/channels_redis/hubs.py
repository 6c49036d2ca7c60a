"""The pytest side of hubproc: drive channel hubs in subprocesses, see what their members receive.

``Hub`` runs one ``python -m tests.channels_redis.hubproc`` and talks JSON
lines with it. A reader thread parses its stdout (replies and events) and
wakes waiters on a ``threading.Condition``; another collects its stderr
(the log). Nothing sleeps: ``call`` waits for its reply, ``wait_delivered``
and ``wait_event`` for the events they need, ``wait_log`` for a log line.
The pytest process is not monkey-patched: plain threads and pipes.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import IO, Any

from testkit.serverproc import ROOT, Output, child_env, stop_process

START_TIMEOUT = 20.0
CALL_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
LOG_TAIL = 40


class Hub:
    """One hubproc subprocess: a channel hub with fake members, driven by JSON commands."""

    def __init__(self, name: str = "hub") -> None:
        self.name = name
        self.process: subprocess.Popen | None = None
        self.stderr: Output | None = None
        #: The ready event (``{"event": "ready", "connected": bool}``) once started.
        self.ready: dict[str, Any] = {}
        self._changed = threading.Condition()
        self._replies: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._stray: list[str] = []
        self._ended = False
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._reader: threading.Thread | None = None

    # -- life ----------------------------------------------------------------

    def launch(self, url: str, backend: str = "redis", ready_timeout: float = 10.0, **options: Any) -> Hub:
        """Start the process; returns at once (``wait_ready`` waits for its ready line).

        ``options`` are the backend's keyword arguments, sent as JSON.
        """
        argv = [sys.executable, "-m", "tests.channels_redis.hubproc", "--url", url, "--backend", backend]
        argv += ["--ready-timeout", str(ready_timeout)]
        for key, value in options.items():
            argv += ["--option", f"{key}={json.dumps(value)}"]
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self.stderr = Output(self.process.stderr)
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        """Wait for the ready event; it (``connected`` says whether the backend connected)."""
        self.ready = self.wait_event(lambda e: e.get("event") == "ready", timeout, "the ready line")
        return self.ready

    def start(self, url: str, backend: str = "redis", **options: Any) -> Hub:
        """Launch and wait until ready."""
        self.launch(url, backend, **options)
        self.wait_ready()
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL, and reap (no goodbye: the way a worker crashes)."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
        self._join_readers()

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Close its stdin (it stops its hub and exits); SIGTERM, then SIGKILL, if it lingers. Its exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            assert self.process.stdin is not None
            try:
                with self._send_lock:
                    self.process.stdin.close()
                self.process.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                stop_process(self.process, timeout)
        self._join_readers()
        return self.process.returncode

    def _join_readers(self) -> None:
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT)
        if self.stderr is not None:
            self.stderr.wait_ended(STOP_TIMEOUT)

    # -- reading -------------------------------------------------------------

    def _read(self, stdout: IO[str]) -> None:
        """The stdout reader thread: replies by id, events in order, anything else aside."""
        for line in stdout:
            with self._changed:
                self._take(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def _take(self, line: str) -> None:
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        if isinstance(item, dict) and "event" in item:
            self._events.append(item)
        elif isinstance(item, dict) and "reply" in item and isinstance(item.get("id"), int):
            self._replies[item["id"]] = item
        else:
            self._stray.append(line)

    def _wait(self, found: Callable[[], Any], timeout: float, what: str) -> Any:
        """Wait (on the condition) until ``found()`` returns something true; AssertionError with the log otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = found()
                if value:
                    return value
                left = deadline - time.monotonic()
                if self._ended or left <= 0:
                    why = "its output ended" if self._ended else f"timed out after {timeout} s"
                    raise AssertionError(f"{self.name}: waiting for {what}: {why}\n{self.log_tail()}")
                self._changed.wait(left)

    # -- commands ------------------------------------------------------------

    def call(self, op: str, *, timeout: float = CALL_TIMEOUT, check: bool = True, **fields: Any) -> dict[str, Any]:
        """Send one command and wait for its reply.

        AssertionError on timeout, and on ``ok: false`` unless ``check`` is False.
        """
        assert self.process is not None and self.process.stdin is not None, "launch() first"
        command_id = next(self._ids)
        line = json.dumps({"op": op, "id": command_id, **fields}) + "\n"
        try:
            with self._send_lock:
                self.process.stdin.write(line)
                self.process.stdin.flush()
        except (OSError, ValueError) as exc:  # the process is gone (broken pipe, closed stdin)
            raise AssertionError(f"{self.name}: cannot send {op}: {exc}\n{self.log_tail()}") from None
        reply = self._wait(lambda: self._replies.pop(command_id, None), timeout, f"the reply to {op} {fields}")
        if check and not reply.get("ok"):
            raise AssertionError(f"{self.name}: {op} {fields} failed: {reply.get('error')}\n{self.log_tail()}")
        return reply

    def join(self, channel: str, member: str, **info: Any) -> dict[str, Any]:
        return self.call("join", channel=channel, member=member, **info)

    def publish(self, channel: str, message: str, exclude: str | None = None) -> int:
        """Publish; how many of this hub's members it was delivered to at once."""
        extra = {} if exclude is None else {"exclude": exclude}
        return self.call("publish", channel=channel, message=message, **extra)["delivered"]

    # -- events --------------------------------------------------------------

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The events so far (of one ``kind``: "deliver", "closed", "ready"), in order."""
        with self._changed:
            return [e for e in self._events if kind is None or e.get("event") == kind]

    def deliveries(self, member: str | None = None) -> list[str]:
        """The messages delivered so far (to ``member``), in order."""
        return [e["message"] for e in self.events("deliver") if member is None or e["member"] == member]

    def wait_event(self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict[str, Any]:
        """The first event for which ``predicate`` is true, waited for."""
        return self._wait(lambda: next((e for e in self._events if predicate(e)), None), timeout, what)

    def wait_delivered(self, member: str, messages: str | Iterable[str], timeout: float = CALL_TIMEOUT) -> list[str]:
        """Wait until ``member`` has received ``messages`` (each as often as listed); all it received.

        More copies or other messages do not fail the wait: compare the
        returned list to check them.
        """
        wanted = Counter([messages] if isinstance(messages, str) else messages)

        def arrived() -> list[str] | None:
            got = [e["message"] for e in self._events if e.get("event") == "deliver" and e["member"] == member]
            return got if not wanted - Counter(got) else None

        return self._wait(arrived, timeout, f"{member} to receive {dict(wanted)}")

    # -- the log -------------------------------------------------------------

    def log(self) -> str:
        """Everything the process wrote on stderr (its log), and any stray stdout lines."""
        text = self.stderr.text() if self.stderr is not None else ""
        with self._changed:
            stray = "".join(self._stray)
        return text + (f"-- stray stdout --\n{stray}" if stray else "")

    def log_tail(self, lines: int = LOG_TAIL) -> str:
        tail = self.log().splitlines()[-lines:]
        return f"-- {self.name} log (last {len(tail)} lines) --\n" + "\n".join(tail)

    def log_mark(self) -> int:
        """How many log lines there are now: ``wait_log(..., start=mark)`` looks only at later ones."""
        return len(self.stderr.lines) if self.stderr is not None else 0

    def wait_log(self, pattern: str | re.Pattern[str], timeout: float = CALL_TIMEOUT, start: int = 0) -> re.Match[str]:
        """The first log line from ``start`` on matching ``pattern``, waited for."""
        assert self.stderr is not None, "launch() first"
        try:
            return self.stderr.wait_for(pattern, timeout, start)
        except AssertionError:
            raise AssertionError(f"{self.name}: no log line matching {pattern!r}\n{self.log_tail()}") from None

    def __repr__(self) -> str:
        return f"<Hub {self.name} pid={self.process.pid if self.process else None}>"


def start_hubs(url: str, n: int = 2, backend: str = "redis", **options: Any) -> list[Hub]:
    """``n`` hubs on ``url``, launched together, returned once all are ready (all stopped if one fails)."""
    hubs = [Hub(f"hub{i}") for i in range(n)]
    try:
        for hub in hubs:
            hub.launch(url, backend, **options)
        for hub in hubs:
            hub.wait_ready()
    except BaseException:
        for hub in hubs:
            hub.kill()
        raise
    return hubs
