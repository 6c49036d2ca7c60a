"""Headers for the proxies in front of the server: ``X-Accel-Buffering: no`` on streaming answers.

nginx buffers what it proxies by default (``proxy_buffering on``) and would
hold streaming frames back until a buffer fills; this header turns that off
for one answer. Only answers that stream need it: a polling answer is one
frame, whole, and buffering it costs nothing (examples/nginx.conf, and
tests/deploy/test_nginx.py for the same through a real nginx).
"""

import pytest

from testkit.sockjshttp import new_sid, poll, send
from testkit.sockjsstream import Receiver

STREAMS = ["xhr_streaming", "eventsource", "htmlfile"]
ANOTHER = 'c[2010,"Another connection still open"]'


@pytest.mark.parametrize("transport", STREAMS)
def test_streaming_answer_turns_proxy_buffering_off(server, transport):
    with Receiver(server, "/echo", new_sid(), transport) as rx:
        assert rx.head.all("X-Accel-Buffering") == ["no"]
        assert rx.frame() == "o"


@pytest.mark.parametrize("transport", STREAMS)
def test_streaming_answer_on_http10_turns_proxy_buffering_off(server, transport):
    """nginx speaks HTTP/1.0 to its upstream unless told otherwise (proxy_http_version)."""
    with Receiver(server, "/echo", new_sid(), transport, version="HTTP/1.0") as rx:
        assert rx.head.all("X-Accel-Buffering") == ["no"]
        assert rx.frame() == "o"


@pytest.mark.parametrize("transport", STREAMS)
def test_refused_second_stream_turns_proxy_buffering_off(server, transport):
    """The 2010 refusal is a streaming answer too: it must reach the client, not wait in a buffer."""
    sid = new_sid()
    with Receiver(server, "/echo", sid, transport) as first:
        assert first.frame() == "o"
        with Receiver(server, "/echo", sid, transport) as second:
            assert second.head.all("X-Accel-Buffering") == ["no"]
            assert second.frame() == ANOTHER


@pytest.mark.parametrize("transport", ["xhr", "jsonp"])
def test_polling_answer_leaves_proxy_buffering_alone(server, transport):
    sid = new_sid()
    r, frame = poll(server, "/echo", sid, transport)
    assert frame == "o"
    assert not r.has("X-Accel-Buffering")
    send(server, "/echo", sid, ["x"])
    r, frame = poll(server, "/echo", sid, transport)
    assert frame == 'a["x"]'
    assert not r.has("X-Accel-Buffering")


def test_send_answer_leaves_proxy_buffering_alone(server):
    sid = new_sid()
    poll(server, "/echo", sid)
    assert not send(server, "/echo", sid, ["x"]).has("X-Accel-Buffering")
