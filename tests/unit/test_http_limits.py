"""http/limits.py: a connection reads its server's HttpConfig through Limits, made once per config."""

from __future__ import annotations

import dataclasses

from sockjs_gevent.http.config import HttpConfig
from sockjs_gevent.http.limits import Limits, limits_of


def test_limits_hold_every_value_of_the_config():
    config = HttpConfig(header_timeout=3, keepalive_timeout=None, max_headers=7, max_field_size=99, read_size=4096)
    limits = Limits(config)
    for field in dataclasses.fields(HttpConfig):
        assert getattr(limits, field.name) == getattr(config, field.name), field.name
    assert limits.config is config


def test_whole_second_timeouts_are_floats():
    limits = Limits(HttpConfig(header_timeout=3, body_min_rate=100, linger_timeout=0))
    assert [type(v) for v in (limits.header_timeout, limits.body_min_rate, limits.linger_timeout)] == [float] * 3


def test_connections_of_one_config_share_its_limits_and_a_new_config_gets_its_own():
    first = HttpConfig(max_headers=5)
    assert limits_of(first) is limits_of(first)
    second = HttpConfig(max_headers=6)
    assert limits_of(second).max_headers == 6
    assert limits_of(first).max_headers == 5  # (back to the first: made again from it)
