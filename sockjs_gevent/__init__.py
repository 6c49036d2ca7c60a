"""sockjs-gevent: a SockJS server for gevent with blocking-style handlers.

from sockjs_gevent import SockJS, serve

def echo(conn):
    for message in conn:
        conn.send(message)

serve(SockJS(echo, prefix="/echo"), port=8080)
"""

from .app import SockJS
from .compression import Compression
from .connection import Connection, Refuse
from .http import HttpConfig
from .options import Options, OptionsError
from .router import Router
from .server import SockJSHandler, make_server, serve

__all__ = [
    "SockJS",
    "Compression",
    "Connection",
    "Refuse",
    "Options",
    "OptionsError",
    "Router",
    "HttpConfig",
    "SockJSHandler",
    "make_server",
    "serve",
]
#: The one version number: setup.py reads it from this line, the command lines print it with --version.
__version__ = "0.1.0"
