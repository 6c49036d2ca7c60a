"""examples/multiplex as a user sees it, in real Chromium: three streams on one connection."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from testkit.serverproc import RunningServer, start_server

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def example() -> Iterator[RunningServer]:
    server = start_server([os.path.join("examples", "multiplex", "server.py"), "--port", "0"])
    yield server
    server.stop()


@pytest.fixture
def tab(new_tab: Callable[[str], Any], example: RunningServer) -> Callable[[], Any]:
    """A new tab on the example's page, once it is connected and subscribed to its three streams."""

    def open_tab() -> Any:
        page = new_tab(example.base_url + "/")
        page.wait_for_function(
            "() => document.getElementById('status').textContent.startsWith('connected over')", timeout=TIMEOUT_MS
        )
        for name in ("chat", "ticker", "shout"):
            box(page, name, "* subscribed").wait_for(timeout=TIMEOUT_MS)
        return page

    return open_tab


def box(page: Any, stream: str, text: str) -> Any:
    return page.locator(f'.box[data-stream="{stream}"] .log div', has_text=text).last


def send(page: Any, stream: str, text: str) -> None:
    page.fill(f'.box[data-stream="{stream}"] input', text)
    page.press(f'.box[data-stream="{stream}"] input', "Enter")


def test_three_streams_share_one_connection(tab: Any) -> None:
    first, second = tab(), tab()
    assert len(first.websockets) == 1  # one SockJS connection carries all three
    box(first, "ticker", ":").wait_for(timeout=TIMEOUT_MS)  # the server's clock, HH:MM:SS
    send(second, "chat", "hello, everyone")
    box(first, "chat", "hello, everyone").wait_for(timeout=TIMEOUT_MS)
    send(first, "shout", "quiet")
    box(first, "shout", "QUIET").wait_for(timeout=TIMEOUT_MS)
    assert box(second, "shout", "QUIET").count() == 0  # a stream is private to its connection
    assert first.errors == [] and second.errors == []


def test_streams_close_and_reopen_alone(tab: Any) -> None:
    page = tab()
    send(page, "shout", "bye")  # the server closes the shout stream
    box(page, "shout", "* closed").wait_for(timeout=TIMEOUT_MS)
    assert page.locator('.box[data-stream="shout"] input').is_disabled()
    page.click('.box[data-stream="ticker"] .toggle')  # the page unsubscribes
    box(page, "ticker", "* closed").wait_for(timeout=TIMEOUT_MS)
    send(page, "chat", "chat goes on")
    box(page, "chat", "chat goes on").wait_for(timeout=TIMEOUT_MS)
    page.click('.box[data-stream="shout"] .toggle')  # and subscribes again
    page.locator('.box[data-stream="shout"] input:enabled').wait_for(timeout=TIMEOUT_MS)
    send(page, "shout", "back")
    box(page, "shout", "BACK").wait_for(timeout=TIMEOUT_MS)
    assert page.errors == []
