"""docs/protocol.md section 5: xhr-streaming, eventsource and htmlfile."""

import json
import re

import pytest

from testkit.sockjshttp import NO_CACHE, messages_of, new_sid, send
from testkit.sockjsstream import HTMLFILE_HEAD, Receiver

STREAMS = ["xhr_streaming", "eventsource", "htmlfile"]
CONTENT_TYPE = {
    "xhr_streaming": "application/javascript; charset=UTF-8",
    "eventsource": "text/event-stream",
    "htmlfile": "text/html; charset=UTF-8",
}


@pytest.mark.parametrize("transport", STREAMS)
def test_streaming_answer_is_200_with_content_type_and_no_cache(server, transport):
    with Receiver(server, "/echo", new_sid(), transport) as rx:
        assert rx.head.status == 200
        assert rx.head.header("Content-Type") == CONTENT_TYPE[transport]
        assert rx.head.header("Cache-Control") == NO_CACHE
        assert rx.frame() == "o"


def test_xhr_streaming_prelude_is_2048_h_and_newline_then_frames(server):
    sid = new_sid()
    with Receiver(server, "/echo", sid, "xhr_streaming") as rx:
        assert rx.chunks(2) == [b"h" * 2048 + b"\n", b"o\n"]
        send(server, "/echo", sid, ["x"])
        assert rx.chunks(3)[2] == b'a["x"]\n'


def test_eventsource_prelude_is_crlf_then_data_frames(server):
    sid = new_sid()
    with Receiver(server, "/echo", sid, "eventsource") as rx:
        assert rx.chunks(2) == [b"\r\n", b"data: o\r\n\r\n"]
        send(server, "/echo", sid, ["x"])
        assert rx.chunks(3)[2] == b'data: a["x"]\r\n\r\n'


# -- one unit per write (docs/protocol.md section 5) -------------------------------
# Each test reads the chunked body chunk by chunk: the prelude alone, then
# exactly one frame per chunk, never two merged.

GO_AWAY = 'c[3000,"Go away!"]'
ANOTHER = 'c[2010,"Another connection still open"]'


@pytest.mark.parametrize("transport", STREAMS)
def test_prelude_and_open_frame_are_separate_chunks(server, transport):
    with Receiver(server, "/echo", new_sid(), transport) as rx:
        assert rx.units(1) == ["o"]


@pytest.mark.parametrize("transport", STREAMS)
def test_every_message_frame_is_its_own_chunk(server, transport):
    sid = new_sid()
    expected = [f"m{i}" for i in range(20)]
    with Receiver(server, "/echo", sid, transport) as rx:
        assert rx.units(1) == ["o"]
        send(server, "/echo", sid, expected[:10])
        send(server, "/echo", sid, expected[10:])
        got: list[str] = []
        count = 1
        while len(got) < len(expected):
            count += 1
            got += messages_of(rx.units(count)[-1])
    assert got == expected  # batched as the handler queued them, each batch one chunk


@pytest.mark.parametrize("transport", STREAMS)
def test_close_service_sends_open_and_close_in_separate_chunks(server, transport):
    sid = new_sid()
    with Receiver(server, "/close", sid, transport) as rx:
        assert rx.units(2) == ["o", GO_AWAY]
        assert rx.ended()
        assert len(rx.raw.chunks) == 3
    # A later request on the closed session: the prelude, then the close frame alone.
    with Receiver(server, "/close", sid, transport) as rx:
        assert rx.units(1) == [GO_AWAY]
        assert rx.ended()
        assert len(rx.raw.chunks) == 2


@pytest.mark.parametrize("transport", STREAMS)
def test_2010_answer_is_prelude_then_close_frame_in_separate_chunks(server, transport):
    sid = new_sid()
    with Receiver(server, "/echo", sid, transport) as first:
        assert first.units(1) == ["o"]
        with Receiver(server, "/echo", sid, transport) as second:
            assert second.head.header("Transfer-Encoding") == "chunked"
            assert second.units(1) == [ANOTHER]
            assert second.ended()
            assert len(second.raw.chunks) == 2


@pytest.mark.parametrize("transport", STREAMS)
def test_response_limit_writes_one_frame_per_chunk_and_ends_after_the_crossing_one(server, transport):
    sid = new_sid()
    with Receiver(server, "/echo", sid, transport) as rx:
        assert rx.units(1) == ["o"]
        for i in range(20):
            send(server, "/echo", sid, [f"{i:02d}" + "x" * 400])
            # One frame per message, each written while the stream waited.
            rx.chunks(i + 3)
            assert len(rx.raw.chunks) == i + 3
            if sum(len(chunk) for chunk in rx.raw.chunks[1:]) >= 4096:
                break
        count = len(rx.raw.chunks)
        rx.raw.read_body()  # the answer ends right after the chunk that crossed the limit
        assert len(rx.raw.chunks) == count
        frames = rx.units(count - 1)
    sizes = [len(chunk) for chunk in rx.raw.chunks[1:]]
    assert sum(sizes[:-1]) < 4096 <= sum(sizes), sizes
    assert all(frame.startswith("a[") for frame in frames[1:]), frames


@pytest.mark.parametrize("transport", STREAMS)
def test_aborted_stream_then_next_request_gets_close_frame_alone(server, transport):
    from testkit.serverproc import poll_until
    from testkit.sockjshttp import poll

    sid = new_sid()
    rx = Receiver(server, "/echo", sid, transport)
    assert rx.units(1) == ["o"]
    rx.raw.abort()
    # A reset travels asynchronously: until the server reads it, the aborted
    # request still counts as attached (2010).
    poll_until(lambda: poll(server, "/echo", sid)[1] != ANOTHER, 3, "an answer other than 2010")
    with Receiver(server, "/echo", sid, transport) as again:
        assert again.units(1) == ['c[1002,"Connection interrupted"]']
        assert again.ended()


@pytest.mark.parametrize("transport", STREAMS)
def test_heartbeat_is_its_own_chunk(server_factory, transport):
    fast = server_factory("--heartbeat-delay", "0.1")
    with Receiver(fast, "/echo", new_sid(), transport) as rx:
        assert rx.units(3) == ["o", "h", "h"]


def test_eventsource_escapes_percent_cr_lf_nul_in_frames(server):
    sid = new_sid()
    message = "100% \r\n\x00 %0A %25"
    with Receiver(server, "/echo", sid, "eventsource") as rx:
        assert rx.frame() == "o"
        start = rx.pos
        send(server, "/echo", sid, [message])
        frame = rx.frame()
        data = rx.raw.body[start + len(b"data: ") : rx.pos - 4]
    for raw_char in (b"\r", b"\n", b"\x00"):
        assert raw_char not in data
    assert b"%" not in re.sub(rb"%(25|0D|0A|00)", b"", data), data
    assert data == b'a["100%25 \\r\\n\\u0000 %250A %2525"]'
    assert json.loads(frame[1:]) == [message]


def test_htmlfile_prelude_is_head_with_callback_padded_past_1024_then_crlfcrlf(server):
    with Receiver(server, "/echo", new_sid(), "htmlfile", query="?c=my.cb_1") as rx:
        prelude = rx.prelude()
        assert rx.frame() == "o"
        frame_bytes = rx.raw.body[len(prelude) : rx.pos]
    head = HTMLFILE_HEAD.replace("CALLBACK", "my.cb_1").encode()
    assert prelude.startswith(head)
    assert prelude.endswith(b"\r\n\r\n")
    padding = prelude[len(head) : -4]
    assert padding.lstrip(b"\n").strip(b" ") == b"", padding
    assert len(prelude) - 4 >= 1024
    assert frame_bytes == b'<script>\np("o");\n</script>\r\n'


def test_htmlfile_frame_is_script_calling_p_with_json_string(server):
    sid = new_sid()
    with Receiver(server, "/echo", sid, "htmlfile") as rx:
        assert rx.frame() == "o"
        start = rx.pos
        send(server, "/echo", sid, ["</script>"])
        assert rx.frame() == 'a["</script>"]'
        raw = rx.raw.body[start : rx.pos]
    assert raw.startswith(b"<script>\np(") and raw.endswith(b");\n</script>\r\n")
    inner = raw[len(b"<script>\np(") : -len(b");\n</script>\r\n")]
    assert json.loads(inner) == 'a["</script>"]'
    assert b"<" not in inner  # every "<" written \u003c: no markup inside the script element


@pytest.mark.parametrize("transport", STREAMS)
def test_streaming_uses_chunked_encoding_on_http11(server, transport):
    with Receiver(server, "/echo", new_sid(), transport) as rx:
        assert rx.head.header("Transfer-Encoding") == "chunked"
        assert not rx.head.has("Content-Length")
        assert rx.frame() == "o"


@pytest.mark.parametrize("transport", STREAMS)
def test_streaming_delivers_messages_as_they_come(server, transport):
    sid = new_sid()
    with Receiver(server, "/echo", sid, transport) as rx:
        assert rx.frame() == "o"
        for i in range(5):
            send(server, "/echo", sid, [f"n{i}"])
            assert rx.messages(1) == [f"n{i}"]


def limit_crossed_by_last_frame(sizes, prelude, limit=4096):
    """The response ended after the frame that crossed ``limit``; the prelude may or may not count."""
    for base in (0, prelude):
        before, total = base + sum(sizes[:-1]), base + sum(sizes)
        if before < limit <= total:
            return True
    return False


@pytest.mark.parametrize("transport", STREAMS)
def test_response_limit_ends_stream_after_crossing_frame_and_session_survives(server, transport):
    """/echo has response_limit=4096: each response ends right after the frame that
    crossed it; the next response continues with nothing lost or duplicated."""
    sid = new_sid()
    expected = [f"{i:03d}" + "x" * 400 for i in range(40)]
    got = []
    rx = Receiver(server, "/echo", sid, transport)
    prelude = len(rx.prelude())
    assert rx.frame() == "o"
    for message in expected:
        send(server, "/echo", sid, [message])
    endings = 0
    while True:
        frame = rx.frame_or_end()
        if frame is None:
            endings += 1
            assert limit_crossed_by_last_frame(rx.frame_sizes, prelude), rx.frame_sizes
            rx.close()
            rx = Receiver(server, "/echo", sid, transport)  # same session: no "o" again
            prelude = len(rx.prelude())
            continue
        assert sum(rx.frame_sizes[:-1]) < 4096, "response went on after crossing the limit"
        got += messages_of(frame)
        if len(got) >= len(expected):
            break
    if sum(rx.frame_sizes) >= 4096:
        assert rx.ended()
    rx.close()
    assert got == expected
    assert endings >= 1


@pytest.mark.parametrize("transport", STREAMS)
def test_second_streaming_receiver_gets_2010_and_first_is_untouched(server, transport):
    sid = new_sid()
    with Receiver(server, "/echo", sid, transport) as first:
        assert first.frame() == "o"
        with Receiver(server, "/echo", sid, transport) as second:
            assert second.frame() == 'c[2010,"Another connection still open"]'
            assert second.ended()
        send(server, "/echo", sid, ["first still works"])
        assert first.messages(1) == ["first still works"]


def test_xhr_poll_while_streaming_attached_gets_2010(server):
    from testkit.sockjshttp import poll

    sid = new_sid()
    with Receiver(server, "/echo", sid, "xhr_streaming") as rx:
        assert rx.frame() == "o"
        _, frame = poll(server, "/echo", sid)
        assert frame == 'c[2010,"Another connection still open"]'
        send(server, "/echo", sid, ["ok"])
        assert rx.messages(1) == ["ok"]


@pytest.mark.parametrize("transport", STREAMS)
def test_messages_queued_while_detached_come_in_one_frame_on_attach(server, transport):
    from testkit.sockjshttp import open_session

    sid = open_session(server)
    send(server, "/echo", sid, ["a", "b"])
    send(server, "/echo", sid, ["c"])
    with Receiver(server, "/echo", sid, transport) as rx:
        assert rx.frame() == 'a["a","b","c"]'
