"""How the client's connection acts on each SockJS frame."""

from sockjs_gevent.client.connection import ClientConnection


def test_messages_then_close_frame():
    conn = ClientConnection("http://127.0.0.1:1/echo")
    for frame in ("o", 'a["x","y"]', "h", 'c[3000,"Go away!"]'):
        conn.handle_frame(frame)
    assert [conn.recv(timeout=1), conn.recv(timeout=1), conn.recv(timeout=1)] == ["x", "y", None]
    assert (conn.close_code, conn.close_reason) == (3000, "Go away!")


def test_second_open_frame_means_the_server_lost_the_session():
    """A poll answered by a new session (expired, or a wrong worker behind a
    balancer) must not pass for a healthy one: 1006, as sockjs-client does."""
    conn = ClientConnection("http://127.0.0.1:1/echo")
    conn.handle_frame("o")
    conn.handle_frame("o")
    assert (conn.close_code, conn.close_reason) == (1006, "Server lost session")


def test_unknown_frame_is_a_protocol_error():
    conn = ClientConnection("http://127.0.0.1:1/echo")
    conn.handle_frame("o")
    conn.handle_frame("zzz")
    assert conn.close_code == 1002
