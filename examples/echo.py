"""The smallest SockJS server: echo every message back.

python examples/echo.py            # then open a SockJS client on http://127.0.0.1:8080/echo
"""

from gevent import monkey

monkey.patch_all()  # first: whatever a handler calls must cooperate with gevent

from sockjs_gevent import SockJS, serve  # noqa: E402


def echo(conn):
    for message in conn:  # blocks until a message arrives; ends when the session closes
        conn.send(message)


if __name__ == "__main__":
    serve(SockJS(echo, prefix="/echo"), port=8080)
