"""The fast request-header reader behind SockJSHandler."""

import io

import pytest

from sockjs_gevent.pywsgi._headers import HEAD_TOO_LARGE, MAX_HEAD, MAX_HEADERS, Headers


def read(raw: bytes) -> Headers:
    return Headers.read(io.BytesIO(raw))


def test_reads_up_to_the_blank_line_and_leaves_the_body():
    stream = io.BytesIO(b"Host: a\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody")
    headers = Headers.read(stream)
    assert headers.status == ""
    assert headers.get("host") == "a"
    assert headers.getheader("CONTENT-LENGTH") == "4"
    assert headers.typeheader == "text/plain"
    assert stream.read() == b"body"


def test_first_value_wins_and_raw_lines_keep_order():
    headers = read(b"Cookie: a=1\r\nX-A: 1\r\nCookie: b=2\r\n\r\n")
    assert headers.get("cookie") == "a=1"
    assert list(headers.headers) == ["Cookie: a=1\r\n", "X-A: 1\r\n", "Cookie: b=2\r\n"]


def test_environ_items_drop_underscored_names_and_content_headers():
    headers = read(b"X-Real-IP: 1\r\nX_Forged: 2\r\nContent-Type: t\r\nContent-Length: 0\r\n\r\n")
    assert list(headers.wsgi_items()) == [("HTTP_X_REAL_IP", "1")]


def test_folded_lines_are_refused():
    headers = read(b"X-Long: a\r\n  b\r\n\r\n")
    assert headers.status.startswith("Folded header line") and headers.status_code == 400


def test_delete_removes_every_occurrence():
    headers = read(b"Content-Length: 5\r\nX-A: 1\r\ncontent-length: 5\r\n\r\n")
    del headers["content-length"]
    assert "Content-Length" not in headers
    assert headers.get("content-length") is None
    assert [line.split(":")[0] for line in headers.headers] == ["X-A"]


def test_lf_only_line_endings_and_eof_end_the_headers():
    assert read(b"Host: a\nX: b\n\n").get("x") == "b"
    assert read(b"Host: a\r\n").get("host") == "a"


def test_bad_header_blocks_are_reported_in_status():
    assert read(b"no colon here\r\n\r\n").status == "Malformed header line"
    assert read(b": empty name\r\n\r\n").status == "Malformed header line"
    assert read(b"Bad Name : x\r\n\r\n").status == "Malformed header line"
    assert read(b" leading continuation\r\n\r\n").status.startswith("Folded")


def test_heads_over_16_kib_or_100_lines_are_431():
    assert read(b"X: " + b"a" * MAX_HEAD + b"\r\n\r\n").status == HEAD_TOO_LARGE
    split = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 4000) for i in range(5)) + b"\r\n"
    assert read(split).status == HEAD_TOO_LARGE
    many = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n"
    assert read(many).status == HEAD_TOO_LARGE
    assert read(many).status_code == 431
    assert read(b"Cookie: " + b"c" * 12000 + b"\r\n\r\n").status == ""  # big, but within the head


@pytest.mark.parametrize(
    "block, why",
    [
        (b"Content-Length: 5\r\nContent-Length: 6\r\n", "More than one Content-Length"),
        (b"Content-Length: 5\r\nContent-Length: 5\r\n", "More than one Content-Length"),
        (b"Content-Length: 1_0\r\n", "Content-Length is not a number"),
        (b"Content-Length: +10\r\n", "Content-Length is not a number"),
        (b"Content-Length: -1\r\n", "Content-Length is not a number"),
        (b"Content-Length: 0x10\r\n", "Content-Length is not a number"),
        (b"Transfer-Encoding: gzip, chunked\r\n", "Transfer-Encoding other than chunked"),
        (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "Transfer-Encoding other than chunked"),
        (b"Transfer-Encoding: identity\r\n", "Transfer-Encoding other than chunked"),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "Both Content-Length and Transfer-Encoding"),
        (b"X-A: a\x00b\r\n", "Control character in a header value"),
        (b"X-A: a\rb\r\n", "Control character in a header value"),
    ],
)
def test_ambiguous_framing_and_control_characters_are_400(block, why):
    headers = read(block + b"\r\n")
    assert (headers.status, headers.status_code) == (why, 400)


def test_plain_framing_is_fine():
    assert read(b"Content-Length: 10\r\n\r\n").status == ""
    assert read(b"Transfer-Encoding: Chunked\r\n\r\n").status == ""
    assert read(b"X-A: tab\there and obs-text \xe9\r\n\r\n").status == ""
