"""Checking the functions users hand us, when they hand them over.

A handler of the wrong shape would otherwise open every session and close
it at once (1011), or close it silently (a generator, an ``async def``);
these checks turn such mistakes into a TypeError at construction that says
what to write instead.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional


def positional_arity(func: Callable[..., Any]) -> Optional[tuple[int, int]]:
    """(required, maximum) positional parameters, or None when it cannot be told.

    The maximum is a large number when the function takes ``*args``.
    """
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = len([p for p in positional if p.default is p.empty])
    most = 1 << 16 if any(p.kind is p.VAR_POSITIONAL for p in parameters) else len(positional)
    return required, most


def _name(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", None) or repr(func)


def _unwrapped(func: Callable[..., Any]) -> Callable[..., Any]:
    return inspect.unwrap(func) if inspect.isfunction(func) or hasattr(func, "__wrapped__") else func


def check_handler(handler: Any, what: str = "handler") -> None:
    """Raise TypeError unless ``handler`` is a plain function of one connection."""
    if not callable(handler):
        raise TypeError(f"{what} must be a function taking the connection, e.g. def {what}(conn): ..., got {handler!r}")
    inner = _unwrapped(handler)
    if inspect.iscoroutinefunction(inner) or inspect.isasyncgenfunction(inner):
        raise TypeError(
            f"{what} {_name(handler)} is an async def: handlers are plain functions that block "
            f"(gevent makes that cheap). Write def {getattr(inner, '__name__', what)}(conn): ... and call "
            f"conn.recv() / iterate the connection"
        )
    if inspect.isgeneratorfunction(inner):
        raise TypeError(
            f"{what} {_name(handler)} is a generator function (it contains yield), so calling it would run "
            f"nothing: use conn.send(message) instead of yield"
        )
    arity = positional_arity(handler)
    if arity is None:
        return
    required, most = arity
    if required == 2 and most == 2:
        raise TypeError(
            f"{what} {_name(handler)} takes (environ, start_response): that is a WSGI app, not a SockJS handler. "
            f"Serve it as it is, or give SockJS a function of one connection"
        )
    if not required <= 1 <= most:
        raise TypeError(
            f"{what} {_name(handler)} must take exactly one argument, the connection "
            f"(def {getattr(inner, '__name__', what)}(conn): ...); it takes {required} required"
        )


def hook_caller(hook: Callable[..., Any], what: str = "before_open") -> Callable[[Any], Any]:
    """``hook`` as a function of the connection, accepting a hook of none.

    ``def logged_in(): ...`` and ``def logged_in(conn): ...`` both work;
    anything else is a TypeError now, not at the first connection.
    """
    if not callable(hook):
        raise TypeError(f"{what} must be a function of the connection (or of nothing), got {hook!r}")
    inner = _unwrapped(hook)
    if inspect.iscoroutinefunction(inner):
        raise TypeError(f"{what} {_name(hook)} is an async def: hooks are plain functions; write def instead")
    arity = positional_arity(hook)
    if arity is None or arity[0] <= 1 <= arity[1]:
        return hook
    if arity[0] == 0:
        return lambda conn: hook()
    raise TypeError(f"{what} {_name(hook)} must take the connection or nothing; it takes {arity[0]} required arguments")


def looks_like_handler(obj: Any) -> bool:
    """A function of exactly one required argument (a SockJS handler), not a WSGI app."""
    arity = positional_arity(obj) if callable(obj) else None
    return arity is not None and arity[0] == 1
