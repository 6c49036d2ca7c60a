"""The websocket_compression option: its values, its checks and the command line's way of writing it."""

from __future__ import annotations

import pytest

from sockjs_gevent import Compression, OptionsError, SockJS
from sockjs_gevent.options import Options


def handler(conn):
    pass


def test_off_by_default():
    assert Options().websocket_compression is None
    assert Options(websocket_compression=False).websocket_compression is None


def test_true_means_the_defaults_and_a_dict_names_fields():
    assert Options(websocket_compression=True).websocket_compression == Compression()
    settings = Options(websocket_compression={"server_no_context_takeover": True, "server_max_window_bits": 10})
    assert settings.websocket_compression == Compression(server_no_context_takeover=True, server_max_window_bits=10)
    given = Compression(client_no_context_takeover=True)
    assert SockJS(handler, websocket_compression=given).options.websocket_compression is given


def test_the_defaults_are_memory_conscious():
    c = Compression()
    assert (c.server_max_window_bits, c.client_max_window_bits, c.mem_level) == (12, 12, 5)
    assert not c.server_no_context_takeover and not c.client_no_context_takeover


@pytest.mark.parametrize(
    "settings, fragment",
    [
        ({"server_max_window_bits": 8}, "server_max_window_bits must be an int from 9 to 15 .zlib cannot"),
        ({"client_max_window_bits": 16}, "client_max_window_bits must be an int from 9 to 15"),
        ({"server_max_window_bits": "12"}, "server_max_window_bits must be an int"),
        ({"client_max_window_bits": True}, "client_max_window_bits must be an int"),
        ({"compress_level": 0}, r"compress_level must be an int from 1 to 9 \(1 fastest"),
        ({"mem_level": 10}, "mem_level must be an int from 1 to 9"),
        ({"server_no_context_takeover": "yes"}, "server_no_context_takeover must be True or False"),
    ],
)
def test_bad_settings_raise_when_built(settings, fragment):
    with pytest.raises(OptionsError, match=fragment):
        Compression(**settings)
    with pytest.raises(OptionsError, match="websocket_compression: " + fragment):
        SockJS(handler, websocket_compression=settings)


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("yes", "websocket_compression must be True, False, None, a sockjs_gevent.Compression or a dict"),
        (1, "websocket_compression must be True, False, None"),
        ({"window_bits": 10}, "unknown websocket_compression setting.s. window_bits; known: client_max_window_bits"),
    ],
)
def test_bad_option_values_say_what_to_write(value, fragment):
    with pytest.raises(OptionsError, match=fragment):
        SockJS(handler, websocket_compression=value)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", Compression()),
        (
            "server_no_context_takeover,client_no_context_takeover",
            Compression(server_no_context_takeover=True, client_no_context_takeover=True),
        ),
        (
            "server-max-window-bits=10, client_max_window_bits=9,mem_level=8",
            Compression(server_max_window_bits=10, client_max_window_bits=9, mem_level=8),
        ),
        ("server_no_context_takeover=true", Compression(server_no_context_takeover=True)),
    ],
)
def test_command_line_settings(text, expected):
    assert Compression.parse(text) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("window=10", "unknown compression setting 'window'; known: server_max_window_bits"),
        ("server_max_window_bits=big", "server_max_window_bits takes an int, e.g. server_max_window_bits=10"),
        ("server_max_window_bits=8", "from 9 to 15"),
        ("client_no_context_takeover=no", "client_no_context_takeover is a flag: write it alone"),
        ("examples.echo:echo", "put TARGET first"),
    ],
)
def test_command_line_mistakes(text, fragment):
    with pytest.raises(OptionsError, match=fragment):
        Compression.parse(text)


def test_factories_carry_every_setting():
    c = Compression(
        server_max_window_bits=10,
        client_max_window_bits=11,
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        compress_level=1,
        mem_level=3,
    )
    server = c.server_factory()
    assert (server.server_max_window_bits, server.client_max_window_bits) == (10, 11)
    assert server.server_no_context_takeover and server.client_no_context_takeover
    assert server.compress_settings == {"level": 1, "memLevel": 3}
    client = c.client_factory()
    assert (client.server_max_window_bits, client.client_max_window_bits) == (10, 11)
    assert client.server_no_context_takeover and client.client_no_context_takeover
