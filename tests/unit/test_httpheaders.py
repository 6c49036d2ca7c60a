"""The fast request-header reader behind SockJSHandler."""

import io

from sockjs_gevent.httpheaders import MAX_HEADERS, MAX_LINE, Headers


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


def test_continuation_lines_fold_into_the_previous_value():
    headers = read(b"X-Long: a\r\n  b\r\n\tc\r\n\r\n")
    assert headers.get("x-long") == "a b c"


def test_delete_removes_every_occurrence():
    headers = read(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\ncontent-length: 6\r\n\r\n")
    del headers["content-length"]
    assert "Content-Length" not in headers
    assert headers.get("content-length") is None
    assert [line.split(":")[0] for line in headers.headers] == ["Transfer-Encoding"]


def test_lf_only_line_endings_and_eof_end_the_headers():
    assert read(b"Host: a\nX: b\n\n").get("x") == "b"
    assert read(b"Host: a\r\n").get("host") == "a"


def test_bad_header_blocks_are_reported_in_status():
    assert read(b"no colon here\r\n\r\n").status == "Malformed header line"
    assert read(b": empty name\r\n\r\n").status == "Malformed header line"
    assert read(b"Bad Name : x\r\n\r\n").status == "Malformed header line"
    assert read(b" leading continuation\r\n\r\n").status.startswith("Continuation")
    assert read(b"X: " + b"a" * MAX_LINE + b"\r\n\r\n").status == "Line too long"
    many = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n"
    assert read(many).status == "Too many headers"
