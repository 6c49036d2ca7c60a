"""The response limit ends a streaming answer without losing what was ready to go."""

import gevent
from werkzeug.test import EnvironBuilder

from sockjs_gevent import SockJS


def chunks(app, path):
    environ = EnvironBuilder(path=path, method="POST").get_environ()
    status = []
    body = app(environ, lambda s, h, exc_info=None: status.append(s))
    gevent.idle()  # a new session's handler runs now: what it sends is ready before the first write
    return status, [chunk for chunk in body if chunk]


def test_frames_ready_together_are_each_written_across_answers_none_lost():
    def greeter(conn):
        conn.send("one")
        conn.send("two")
        conn.recv()

    app = SockJS(greeter, "/g", response_limit=1, allowed_origins="*")
    _, first = chunks(app, "/g/000/s1/xhr_streaming")
    assert first[1:] == [b"o\n"]  # "o" alone crossed the limit of 1 byte: the answer ends
    _, second = chunks(app, "/g/000/s1/xhr_streaming")
    assert second[1:] == [b'a["one","two"]\n']
