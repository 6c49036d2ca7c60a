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


def _longest_prefix(prefixes: set[str], path: str) -> str | None:
    """The rule, written plainly: the prefix that is the path or a leading run of its whole segments, longest."""
    matching = [p for p in prefixes if p == "" or path == p or path.startswith(p + "/")]
    return max(matching, key=len) if matching else None


def test_the_lookup_agrees_with_the_rule_on_many_paths():
    import random

    rng = random.Random(7)
    segments = ["a", "b", "echo", "", "x.y", "000"]
    for _ in range(300):
        prefixes = {"/" + "/".join(rng.choice(segments[:3]) for _ in range(rng.randint(1, 3))) for _ in range(3)}
        if rng.random() < 0.3:
            prefixes.add("")
        router = Router([SockJS(handler, prefix=p) for p in prefixes])
        for _ in range(30):
            path = "".join(rng.choice(["/", ""]) + rng.choice(segments) for _ in range(rng.randint(0, 6)))
            service = router.service_for(path)
            assert (service.prefix if service else None) == _longest_prefix(prefixes, path), (prefixes, path)
