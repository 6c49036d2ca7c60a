"""Checking the functions users hand us, when they hand them over.

A handler of the wrong shape would otherwise open every session and close
it at once (1011), or close it silently (a generator, an ``async def``);
these checks turn such mistakes into a TypeError at construction that says
what to write instead. ``check_wsgi_app`` does the same for what is served
as a WSGI app (``serve()``, the command line's TARGET), which would
otherwise start and answer 500 to every request.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def positional_arity(func: Callable[..., Any]) -> tuple[int, int] | None:
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


def _short_name(obj: Any) -> str:
    """A name to write in an example: the function's, else its class's in lower case."""
    name = getattr(obj, "__name__", None)
    if not isinstance(name, str) or not name.isidentifier():
        name = "handler" if inspect.isroutine(obj) else type(obj).__name__.lower()
    return {"multiplexer": "mux"}.get(name, name)


def service_example(obj: Any) -> str:
    """How to write ``obj`` as a SockJS service: ``SockJS(echo, prefix='/echo')``."""
    from .app import SockJS

    if isinstance(obj, SockJS):
        return f"SockJS({_short_name(obj.handler)}, prefix={obj.prefix!r})"
    name = _short_name(obj) if callable(obj) else "echo"
    return f"SockJS({name}, prefix='/{name}')"


def check_wsgi_app(obj: Any, what: str = "serve()") -> None:
    """Raise TypeError unless ``obj`` could be a WSGI app, saying what to write instead.

    ``what`` starts the message: ``"serve()"`` (examples are then written
    as ``serve(...)``), or the command line's TARGET (``"app.py:rooms"``). Caught:
    a list or tuple (of services: ``Router([...])``), a SockJS handler (a
    function of one connection: ``SockJS(echo, prefix='/echo')``), a
    function of no arguments (a factory: call it), one of three or more
    required arguments (an ASGI app, or not an app at all), an
    ``async def``, the Flask extension object, anything not callable.
    A callable whose signature cannot be read is let through.
    """
    from .app import SockJS
    from .router import Router

    if isinstance(obj, (SockJS, Router)):
        return

    def call(inner: str) -> str:
        return f"{what[:-1]}{inner})" if what.endswith("()") else inner

    if isinstance(obj, (list, tuple)):
        items = ", ".join(service_example(item) for item in obj) or "SockJS(echo, prefix='/echo')"
        raise TypeError(
            f"{what}: expected one WSGI app, got a {type(obj).__name__} of services: mount them on a Router, "
            f"{call(f'Router([{items}])')}"
        )
    if not callable(obj):
        if type(obj).__module__.split(".")[0] in ("flask_ext", "flask_sockjs"):
            instead = "serve(app) (or sockjs.run(app))" if what.endswith("()") else "name that app (module:app)"
            raise TypeError(
                f"{what}: expected a WSGI app, got the Flask extension {obj!r}: serve the Flask app it is set up "
                f"on, {instead}"
            )
        raise TypeError(
            f"{what}: expected a WSGI app (a SockJS service, a Router, a Flask app, or a function of "
            f"(environ, start_response)), got {obj!r}"
        )
    name = _short_name(obj)
    if inspect.iscoroutinefunction(_unwrapped(obj)):
        raise TypeError(
            f"{what}: expected a WSGI app, and {name} is an async def: WSGI apps are plain functions of "
            f"(environ, start_response); an ASGI app cannot be served here"
        )
    arity = positional_arity(obj)
    if arity is None:
        return
    required, most = arity
    if looks_like_handler(obj):
        raise TypeError(
            f"{what}: expected a WSGI app, and {name} looks like a SockJS handler (one argument, the connection): "
            f"wrap it in a service, {call(service_example(obj))}"
        )
    if required >= 3:
        raise TypeError(
            f"{what}: expected a WSGI app, a function of (environ, start_response), and {name} takes {required} "
            f"required arguments (an ASGI app's (scope, receive, send) cannot be served here): write "
            f"def {name}(environ, start_response), or a SockJS handler def {name}(conn) served as "
            f"{call(service_example(obj))}"
        )
    if most < 2:
        raise TypeError(
            f"{what}: expected a WSGI app, and {name} takes no arguments: if it builds the app, call it, "
            f"{call(f'{name}()')}"
        )
