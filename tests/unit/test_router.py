"""Which service a path goes to."""

import pytest

from sockjs_gevent import Router, SockJS


def handler(conn):
    pass


ROUTER = Router([SockJS(handler, prefix="/a"), SockJS(handler, prefix="/a/b"), SockJS(handler, prefix="/echo")])


@pytest.mark.parametrize(
    "path, prefix",
    [
        ("/a", "/a"),
        ("/a/", "/a"),
        ("/a/info", "/a"),
        ("/a/b", "/a/b"),
        ("/a/bc", "/a"),
        ("/a/b/000/x/xhr", "/a/b"),
        ("/echo/000/x/websocket", "/echo"),
        ("/echoes", None),
        ("/", None),
        ("", None),
        ("/zz/a", None),
        ("a", None),
        ("//a", None),
    ],
)
def test_longest_matching_prefix_by_whole_segments(path, prefix):
    service = ROUTER.service_for(path)
    assert (service.prefix if service else None) == prefix


def test_a_root_service_takes_everything():
    root = Router([SockJS(handler), SockJS(handler, prefix="/x")])
    assert root.service_for("/x/y").prefix == "/x"
    assert root.service_for("/anything/else").prefix == ""
    assert root.service_for("").prefix == ""


def test_two_services_may_not_share_a_prefix():
    with pytest.raises(ValueError, match="/a"):
        Router([SockJS(handler, prefix="/a"), SockJS(handler, prefix="/a")])
