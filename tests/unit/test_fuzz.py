"""Fuzzing: any input gets a defined answer, never an unhandled exception."""

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.protocol import State
from websockets.server import ServerProtocol
from werkzeug.test import Client

from sockjs_gevent import SockJS
from sockjs_gevent.protocol import PayloadError, decode_payload, decode_websocket_message
from sockjs_gevent.transports.base import CallbackError, callback_param
from sockjs_gevent.websocket import Engine

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_payload_decoder_returns_strings_or_raises_payload_error(body):
    try:
        messages = decode_payload(body)
    except PayloadError:
        return
    assert isinstance(messages, list) and all(isinstance(m, str) for m in messages)


@FUZZ
@given(st.text(max_size=200))
def test_websocket_decoder_returns_strings_or_raises_payload_error(text):
    try:
        messages = decode_websocket_message(text)
    except PayloadError:
        return
    assert all(isinstance(m, str) for m in messages)


@FUZZ
@given(st.text(max_size=100))
def test_callback_validation_accepts_only_safe_names(query):
    read = callback_param(max_length=32)
    try:
        name = read({"QUERY_STRING": query})
    except CallbackError as exc:
        assert str(exc) in ('"callback" parameter required', 'invalid "callback" parameter')
        return
    assert 0 < len(name) <= 32 and set(name) <= set(string.ascii_letters + string.digits + "-_.")


service = SockJS(lambda conn: None, "/echo", heartbeat_delay=0.01, disconnect_delay=0.05)
client = Client(service)
segment = st.text(alphabet=string.ascii_letters + string.digits + "./_-%?\x00é", max_size=12)


transport = st.sampled_from(
    ["xhr", "xhr_send", "xhr_streaming", "eventsource", "htmlfile", "jsonp", "jsonp_send", "websocket", "info"]
)
paths = st.one_of(
    st.lists(segment, max_size=5).map(lambda parts: "/echo/" + "/".join(parts)),
    st.tuples(segment, segment, transport, st.text(max_size=20)).map(lambda t: f"/echo/{t[0]}/{t[1]}/{t[2]}?{t[3]}"),
)


@FUZZ
@given(
    paths,
    st.sampled_from(["GET", "POST", "OPTIONS", "PUT", "DELETE", "HEAD"]),
    st.binary(max_size=50),
)
def test_routing_answers_every_path_and_method(path, method, body):
    response = client.open(path, method=method, data=body, buffered=False)
    try:
        assert 200 <= response.status_code < 600
    finally:
        response.close()


#: A masked close frame's head and mask, then any payload (valid or not, shorter or longer than it says).
close_frames = st.tuples(st.integers(0, 127), st.binary(min_size=4, max_size=4), st.binary(max_size=130)).map(
    lambda t: bytes((0x88, 0x80 | t[0])) + t[1] + t[2]
)


@FUZZ
@given(st.lists(st.one_of(st.binary(min_size=1, max_size=64), close_frames), max_size=8), st.booleans())
def test_websocket_frame_path_survives_arbitrary_bytes(chunks, lazy):
    engine = Engine(None, max_size=1024) if lazy else Engine(ServerProtocol(state=State.OPEN, max_size=1024))
    for chunk in [*chunks, b""]:
        messages = engine.feed(chunk)
        assert all(isinstance(message, str) for message in messages)
        data, _ = engine.output()
        assert isinstance(data, bytes)
        if engine.closed:
            break
    assert engine.closed  # the end of the stream ends it, whatever came before
