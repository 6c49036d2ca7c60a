"""Options are validated when a service is built, with errors that name the problem."""

import pytest

from sockjs_gevent import OptionsError, SockJS
from sockjs_gevent.options import Options


def handler(conn):
    pass


def test_defaults_match_the_protocol():
    options = Options()
    assert options.response_limit == 128 * 1024
    assert options.heartbeat_delay == 25.0
    assert options.disconnect_delay == 5.0
    assert options.jsessionid is False
    assert options.websocket is True
    assert options.sockjs_url.startswith("https://")


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"prefix": "echo"}, "prefix"),
        ({"prefix": "/echo/"}, "prefix"),
        ({"response_limit": 0}, "response_limit"),
        ({"response_limit": "4096"}, "response_limit"),
        ({"heartbeat_delay": -1}, "heartbeat_delay"),
        ({"disconnect_delay": 0}, "disconnect_delay"),
        ({"disconnect_delay": True}, "disconnect_delay"),
        ({"jsessionid": "yes"}, "jsessionid"),
        ({"sockjs_url": "sockjs.js"}, "sockjs_url"),
        ({"sockjs_url": '/x.js"><script>'}, "sockjs_url"),
        ({"websocket": 1}, "websocket"),
        ({"max_message_size": 0}, "max_message_size"),
        ({"heartbeat": 5}, "unknown option"),
    ],
)
def test_bad_values_raise_at_construction(options, fragment):
    with pytest.raises(OptionsError, match=fragment):
        SockJS(handler, **options)


def test_handler_must_be_callable():
    with pytest.raises(TypeError, match="handler"):
        SockJS("not a function")


def test_jsessionid_may_be_a_callable():
    service = SockJS(handler, jsessionid=lambda environ: "JSESSIONID=x; Path=/")
    assert callable(service.options.jsessionid)
