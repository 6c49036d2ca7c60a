"""Handlers that outlive their session: counted until they return, stopped after ``handler_close_timeout``.

A handler runs in its own greenlet and should return once its session
closes (``for message in conn`` ends). One that blocks on something else
forever (a lock, a queue nobody fills, a call with no timeout) would keep
its greenlet and everything it refers to after the session is gone, and a
client opening sessions against it could grow the server without bound.
So a service counts such handlers in ``max_sessions`` until they return,
and one still running ``handler_close_timeout`` seconds after its session
closed is stopped with ``GreenletExit`` (its ``finally`` blocks run),
logged once per handler and line it was blocked on, and counted
(``handler_killed`` in the stats). Handlers that return on their own are
never touched.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

import gevent

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session
    from .stats import Stats

log = logging.getLogger("sockjs_gevent")

_LIBRARY = os.path.dirname(os.path.abspath(__file__))
_GEVENT = os.path.dirname(os.path.abspath(gevent.__file__))
#: Distinct (handler, line) pairs logged at WARNING; past this, DEBUG only.
_MAX_LOGGED = 100


def blocked_at(greenlet: gevent.Greenlet) -> str:
    """Where a suspended greenlet waits: the innermost frame outside gevent and this library."""
    frame = getattr(greenlet, "gr_frame", None)
    where = "?"
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not (path.startswith(_GEVENT) or path.startswith(_LIBRARY)):
            return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        if where == "?":
            where = f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return where


class Reaper:
    """The handlers of one service still running after their session closed.

    Almost every handler returns as soon as its session closes (its ``for
    message in conn`` ends once the close wakes it), so ``watch`` only
    notes the session, and looks again once the event loop has run the
    wake-ups the close scheduled; only a handler still running then costs
    a timer and a greenlet link. (Per closed session, thousands a second,
    those were a libev timer started and stopped, and a link that leaves
    a callback object on the greenlet for as long as its session keeps
    it: more objects for every full pass of the cyclic GC to walk.) A
    noted session counts in ``len()`` until that look.
    """

    __slots__ = ("timeout", "service", "stats", "lingering", "_noted", "_looking", "_logged")

    def __init__(self, timeout: float, service: str, stats: Stats) -> None:
        self.timeout = timeout  # 0: never stop them (still counted)
        self.service = service
        self.stats = stats
        #: handler greenlet -> its timer (None with no timeout).
        self.lingering: dict[gevent.Greenlet, Any] = {}
        #: Sessions closed under a running handler since the last look was scheduled.
        self._noted: list[Session] | None = None
        self._looking = 0  # noted sessions not looked at again yet
        self._logged: set[tuple[str, str]] = set()

    def __len__(self) -> int:
        return len(self.lingering) + self._looking

    def watch(self, session: Session) -> None:
        """``session`` has closed and its handler has not returned: count it, and stop it if it does not."""
        handler = session.handler_greenlet
        if handler is None or session.handler_done or handler.dead or handler in self.lingering:
            return
        self._looking += 1
        noted = self._noted
        if noted is None:
            noted = self._noted = []
            gevent.get_hub().loop.run_callback(self._pass_on)
        noted.append(session)

    def _pass_on(self) -> None:
        """Look at the noted sessions after the wake-ups scheduled so far (the loop runs callbacks in order).

        This callback may run before the wake-up of a session noted after
        it was scheduled (the same loop turn); one more hop puts the look
        behind every one of them.
        """
        noted, self._noted = self._noted, None
        if noted:
            gevent.get_hub().loop.run_callback(self._look, noted)

    def _look(self, noted: list[Session]) -> None:
        """The noted handlers still running: a timer each, and a link for when they return."""
        self._looking -= len(noted)
        for session in noted:
            handler = session.handler_greenlet
            if handler is None or session.handler_done or handler.dead or handler in self.lingering:
                continue
            timer: Any | None = None
            if self.timeout > 0:
                timer = gevent.get_hub().loop.timer(self.timeout)
                timer.start(self._expired, handler)
            self.lingering[handler] = timer
            handler.rawlink(self._returned)

    def _returned(self, handler: gevent.Greenlet) -> None:
        timer = self.lingering.pop(handler, None)
        if timer is not None:
            timer.stop()
            timer.close()

    def _expired(self, handler: gevent.Greenlet) -> None:
        if handler.dead:
            return
        where = blocked_at(handler)
        function = handler.args[0] if handler.args else None  # (Session._run_handler's handler)
        name = getattr(function, "__qualname__", None) or repr(function)
        self.stats.error("handler_killed")
        key = (name, where)
        level = logging.DEBUG
        if key not in self._logged and len(self._logged) < _MAX_LOGGED:
            self._logged.add(key)
            level = logging.WARNING
        log.log(
            level,
            "service %s: handler %s still ran %.3g s after its session closed, blocked at %s; "
            "stopped it (handler_close_timeout; further stops of it there are counted as handler_killed)",
            self.service,
            name,
            self.timeout,
            where,
        )
        if not handler:  # (never started: gevent's kill cancels the start)
            handler.kill(gevent.GreenletExit, block=False)
            return
        # What kill(block=False) does from its callback, done here (this is
        # the event loop): the handler runs its finally blocks now. Once it
        # has returned it is uncounted at once, before anyone who joined it
        # (its links, which run later) hears of its end.
        try:
            handler.throw(gevent.GreenletExit)
        except BaseException:  # (as gevent's kill: the greenlet's own error, reported, not raised here)
            gevent.get_hub().handle_error(handler, *sys.exc_info())
        if handler.dead:
            self._returned(handler)

    def stop_all(self) -> None:
        """Forget every timer (the service is going away)."""
        for timer in self.lingering.values():
            if timer is not None:
                timer.stop()
                timer.close()
        self.lingering.clear()
