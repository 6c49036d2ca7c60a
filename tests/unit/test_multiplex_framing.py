"""sockjs_gevent.multiplex.framing: the websocket-multiplex wire format, without gevent."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockjs_gevent.multiplex.framing import (
    MSG,
    SUB,
    UNS,
    Frame,
    FramingError,
    encode_msg,
    encode_sub,
    encode_uns,
    parse,
    wire_name,
)


@pytest.mark.parametrize(
    "message,frame",
    [
        ("sub,chat", Frame(SUB, "chat")),
        ("uns,chat", Frame(UNS, "chat")),
        ("msg,chat,hello", Frame(MSG, "chat", "hello")),
        ("msg,chat,", Frame(MSG, "chat", "")),  # the empty message
        ("msg,chat,a,b,,c", Frame(MSG, "chat", "a,b,,c")),  # split on the first two commas only
        ("msg,chat,,", Frame(MSG, "chat", ",")),
        ("msg,my%20chat,x", Frame(MSG, "my%20chat", "x")),
        ("msg,chat,msg,other,x", Frame(MSG, "chat", "msg,other,x")),
        ("msg,chat, spaces kept ", Frame(MSG, "chat", " spaces kept ")),
        ("msg,chat,line\nbreak\u2028\x00", Frame(MSG, "chat", "line\nbreak\u2028\x00")),
        ("sub, chat", Frame(SUB, " chat")),  # names are taken as they are
    ],
)
def test_parse(message, frame):
    assert parse(message) == frame


@pytest.mark.parametrize(
    "message,why",
    [
        ("", "no stream name"),
        ("sub", "no stream name"),
        ("hello world", "no stream name"),
        ("sub,", "empty stream name"),
        ("msg,,payload", "empty stream name"),
        ("uns,", "empty stream name"),
        (",chat", "unknown kind"),
        ("pub,chat", "unknown kind"),
        ("SUB,chat", "unknown kind"),  # kinds are lower case
        (" sub,chat", "unknown kind"),
        ("msg,chat", "without a payload field"),  # 'msg,chat,' is the empty payload
        ("sub,a,b", "name only"),  # a wire name has no comma
        ("uns,chat,", "name only"),
    ],
)
def test_malformed(message, why):
    with pytest.raises(FramingError, match=why):
        parse(message)


def test_framing_error_is_a_value_error_with_a_short_preview():
    with pytest.raises(ValueError) as raised:
        parse("x" * 10_000)
    assert len(str(raised.value)) < 200


def test_encode():
    assert encode_sub("chat") == "sub,chat"
    assert encode_uns("chat") == "uns,chat"
    assert encode_msg("chat", "a,b") == "msg,chat,a,b"
    assert encode_msg("chat", "") == "msg,chat,"


@pytest.mark.parametrize("name", ["", "a,b", None, 3])
def test_encode_refuses_names_that_cannot_travel(name):
    for encode in (encode_sub, encode_uns, lambda n: encode_msg(n, "x")):
        with pytest.raises(ValueError):
            encode(name)


def test_encode_msg_takes_text_only():
    with pytest.raises(TypeError):
        encode_msg("chat", b"bytes")


# What JavaScript's escape() gives for each (node -e 'console.log(escape(s))').
@pytest.mark.parametrize(
    "name,wire",
    [
        ("chat", "chat"),
        ("my chat", "my%20chat"),
        ("a,b", "a%2Cb"),
        ("@*_+-./", "@*_+-./"),
        ("%", "%25"),
        ("\u00fcn\u00ef", "%FCn%EF"),
        ("\u6f22\u5b57", "%u6F22%u5B57"),
        ("\U0001f600", "%uD83D%uDE00"),
        ("a b~!#$&()=?[]{}\x00\n", "a%20b%7E%21%23%24%26%28%29%3D%3F%5B%5D%7B%7D%00%0A"),
    ],
)
def test_wire_name_is_javascript_escape(name, wire):
    assert wire_name(name) == wire


def test_a_name_with_commas_round_trips_through_its_wire_name():
    wire = wire_name("news, sports")
    assert "," not in wire
    assert parse(encode_msg(wire, "score: 1,0")) == Frame(MSG, wire, "score: 1,0")
    assert parse(encode_sub(wire)) == Frame(SUB, wire)


@pytest.mark.parametrize("name", ["", None])
def test_wire_name_needs_a_name(name):
    with pytest.raises(ValueError):
        wire_name(name)


@given(st.text(min_size=1).map(wire_name), st.text())
def test_msg_round_trips_and_agrees_with_the_browser_clients_split(name, payload):
    message = encode_msg(name, payload)
    assert parse(message) == Frame(MSG, name, payload)
    # multiplex_client.js: t = data.split(','); type = t.shift(); name = t.shift(); payload = t.join()
    parts = message.split(",")
    assert (parts[0], parts[1], ",".join(parts[2:])) == (MSG, name, payload)


@given(st.text())
def test_parse_never_fails_but_with_framing_error(message):
    try:
        frame = parse(message)
    except FramingError:
        return
    assert frame.kind in (SUB, MSG, UNS) and frame.name and "," not in frame.name
