"""The handler's Connection: JSON helpers, id, close reason, user attributes, big sends."""

from sockjs_gevent import SockJS
from sockjs_gevent.testing import HandlerClient


def test_send_json_and_recv_json():
    def handler(conn):
        while True:
            value = conn.recv_json()
            if value is None:
                return
            conn.send_json({"got": value, "n": len(value)})

    with HandlerClient(SockJS(handler)) as client:
        client.send('["a", "é"]')
        assert client.recv() == '{"got":["a","é"],"n":2}'


def test_recv_json_raises_on_text_that_is_not_json():
    errors = []

    def handler(conn):
        try:
            conn.recv_json()
        except ValueError as exc:
            errors.append(type(exc).__name__)

    with HandlerClient(SockJS(handler)) as client:
        client.send("not json")
        client.wait_closed()
    assert errors == ["JSONDecodeError"]


def test_id_is_stable_random_and_not_the_session_id():
    ids = []

    def handler(conn):
        ids.extend([conn.id, conn.id])

    with HandlerClient(SockJS(handler)) as client:
        client.wait_closed()
    with HandlerClient(SockJS(handler)) as client:
        client.wait_closed()
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    assert len(ids[0]) == 32 and "test" not in ids[0]  # HandlerClient's session id is "test"


def test_close_reason_and_user_attributes():
    seen = {}

    def handler(conn):
        conn.user = "ann"
        conn.recv()
        seen.update(code=conn.close_code, reason=conn.close_reason, user=conn.user)

    with HandlerClient(SockJS(handler)) as client:
        client.close()
    assert seen == {"code": 1000, "reason": "Normal closure", "user": "ann"}


def test_a_message_bigger_than_max_queued_bytes_is_refused_by_send_not_closed_as_slow():
    def handler(conn):
        try:
            conn.send("x" * 5000)
        except ValueError as exc:
            conn.send(str(exc))

    with HandlerClient(SockJS(handler, max_queued_bytes=4096, max_message_size=4096, max_inbox_bytes=4096)) as client:
        reply = client.recv()
        assert "larger than max_queued_bytes (4096)" in reply and "raise max_queued_bytes" in reply
        assert client.wait_closed() == (1000, "Normal closure")  # not 1008 "Slow consumer"
