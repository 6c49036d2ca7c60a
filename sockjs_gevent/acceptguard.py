"""Accepting connections while the process is out of descriptors (or the kernel out of memory).

When accept() fails with EMFILE (the process's descriptor limit), ENFILE
(the system's), ENOBUFS or ENOMEM, gevent's StreamServer hands the error to
the hub, which prints a full traceback for every try (gevent retries after
0.01 s doubling to 1 s: a burst, then one a second for as long as it
lasts), a log flooded while nothing is wrong with the code.
``AcceptGuard`` takes those errors instead: one WARNING line a second at
most per server, saying what ran out and what to do about it, and
accepting pauses (0.1 s, doubling to 1 s, as nginx and gevent do) and
resumes by itself. Clients wait in the listen backlog meanwhile. Other
accept errors still go to gevent.
"""

from __future__ import annotations

import errno
import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gevent._types import _TimerWatcher
    from gevent.server import StreamServer

    # For the type checker the mixin is the server it is mixed into, so that
    # super() and the server's attributes are known.
    _MixedInto = StreamServer
else:
    _MixedInto = object

log = logging.getLogger("sockjs_gevent.server")

#: What each error means, and what to do about it.
RESOURCE_ERRORS = {
    errno.EMFILE: (
        "the process is out of file descriptors ({limit})",
        (
            "raise its limit (ulimit -n, or LimitNOFILE= in a systemd unit), or spread the connections "
            "over more processes"
        ),
    ),
    errno.ENFILE: (
        "the system is out of file descriptors",
        "raise fs.file-max (sysctl), or run fewer connections on this machine",
    ),
    errno.ENOBUFS: ("the kernel is out of socket buffer memory", "free memory, or raise net.ipv4.tcp_mem"),
    errno.ENOMEM: ("the kernel is out of memory for sockets", "free memory, or raise net.ipv4.tcp_mem"),
}


def _descriptor_limit() -> str:
    try:
        import resource
    except ImportError:  # not Unix
        return "limit unknown"
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return "limit unlimited" if soft == resource.RLIM_INFINITY else f"limit {soft}"


class AcceptGuard(_MixedInto):
    """A mixin for a gevent ``StreamServer`` subclass (put it first in the bases) that survives running out.

    It overrides ``do_read`` (one accept()) and ``stop_accepting`` (which
    also cancels a pending resume).
    """

    #: Seconds accepting pauses after a failed accept; doubles while it keeps failing.
    accept_pause_min = 0.1
    accept_pause_max = 1.0
    #: Seconds between two log lines about it, at least.
    accept_log_interval = 1.0

    _accept_pause = 0.0
    _accept_timer: _TimerWatcher | None = None
    #: Failed accepts not yet told in the log, and since when accepting fails (None: it works).
    _accept_untold = 0
    _accept_failing_since: float | None = None
    _accept_failures = 0
    _accept_logged_at = float("-inf")

    # (gevent's do_read returns None too, when the accept would block; the stubs say it never does)
    def do_read(self) -> tuple[Any, Any] | None:  # type: ignore[override]
        try:
            accepted = super().do_read()
        except OSError as error:
            code = error.errno
            if code is None or code not in RESOURCE_ERRORS:
                raise
            self._accept_failed(code)
            return None  # gevent's loop stops until the pause is over
        if accepted and self._accept_failing_since is not None:
            self._accept_worked()
        return accepted

    def stop_accepting(self) -> None:
        super().stop_accepting()
        if self._accept_timer is not None:
            self._accept_timer.stop()
            self._accept_timer.close()
            self._accept_timer = None

    def _accept_failed(self, code: int) -> None:
        now = time.monotonic()
        if self._accept_failing_since is None:
            self._accept_failing_since = now
        # The first of a run of failures pauses the least (0: the last accept worked).
        self._accept_pause = min(self.accept_pause_max, self._accept_pause * 2) or self.accept_pause_min
        self._accept_failures += 1
        self._accept_untold += 1
        if now - self._accept_logged_at >= self.accept_log_interval:
            self._accept_logged_at = now
            name = errno.errorcode.get(code, str(code))
            what, advice = RESOURCE_ERRORS[code]
            more = f", {self._accept_untold} failed accepts since the last line" if self._accept_untold > 1 else ""
            log.warning(
                "cannot accept connections on %s (%s): %s; new clients wait, retrying in %.1f s%s. To fix: %s",
                _where(self),
                name,
                what.format(limit=_descriptor_limit()),
                self._accept_pause,
                more,
                advice,
            )
            self._accept_untold = 0
        self.stop_accepting()  # (level-triggered: the listener stays readable)
        timer = self._accept_timer = self.loop.timer(self._accept_pause)
        timer.start(self._accept_resume)

    def _accept_resume(self) -> None:
        self._accept_timer = None
        if self.started:
            self.start_accepting()

    def _accept_worked(self) -> None:
        self._accept_pause = 0.0
        now = time.monotonic()
        if now - self._accept_logged_at < self.accept_log_interval:
            return  # (told on a later accept: at most one line a second)
        assert self._accept_failing_since is not None
        log.info(
            "accepting connections on %s again, after %d failed accepts over %.1f s",
            _where(self),
            self._accept_failures,
            now - self._accept_failing_since,
        )
        self._accept_logged_at = now
        self._accept_failing_since = None
        self._accept_failures = self._accept_untold = 0


def _where(server: Any) -> str:
    address = getattr(server, "address", None)
    if isinstance(address, tuple) and len(address) >= 2:
        host = address[0]
        return f"[{host}]:{address[1]}" if ":" in str(host) else f"{host}:{address[1]}"
    return str(address)
