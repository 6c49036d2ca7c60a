"""The smallest SockJS server: echo every message back.

    python examples/echo.py            # then open a SockJS client on http://127.0.0.1:8080/echo
"""

from sockjs_gevent import SockJS, serve


def echo(conn):
    for message in conn:  # blocks until a message arrives; ends when the session closes
        conn.send(message)


if __name__ == "__main__":
    serve(SockJS(echo, prefix="/echo"), port=8080)
