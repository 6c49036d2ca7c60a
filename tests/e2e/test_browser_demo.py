"""The chat demo (scripts/demo.sh) as a new user sees it, in real Chromium.

Two tabs on examples/chat/server.py: each says it is connected (and over
which transport), its input is enabled, and a message typed in one tab
appears in the other. Picking a transport reconnects over it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from testkit.serverproc import RunningServer, start_server

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def demo() -> Iterator[RunningServer]:
    server = start_server([os.path.join("examples", "chat", "server.py"), "--port", "0"])
    yield server
    server.stop()


@pytest.fixture
def tab(new_tab: Callable[[str], Any], demo: RunningServer) -> Callable[[], Any]:
    """A new tab on the demo's page."""
    return lambda: new_tab(demo.base_url + "/")


def status_of(page: Any) -> str:
    return page.locator("#status").inner_text()


def wait_connected(page: Any, transport: str) -> None:
    page.wait_for_function(
        "want => document.getElementById('status').textContent === 'connected over ' + want",
        arg=transport,
        timeout=TIMEOUT_MS,
    )


def test_demo_says_connected_enables_input_and_chats_between_tabs(tab: Any) -> None:
    first, second = tab(), tab()
    for page in (first, second):
        wait_connected(page, "websocket")
        assert status_of(page) == "connected over websocket"
        assert page.locator("#text").is_enabled()
        assert page.locator("#send").is_enabled()
    second.fill("#text", "hello from the second tab")
    second.press("#text", "Enter")
    first.locator("#log div", has_text="hello from the second tab").wait_for(timeout=TIMEOUT_MS)
    second.locator("#log div", has_text="hello from the second tab").wait_for(timeout=TIMEOUT_MS)
    assert second.input_value("#text") == ""
    assert first.errors == [] and second.errors == []


@pytest.mark.parametrize("transport", ["xhr-streaming", "xhr-polling", "jsonp-polling"])
def test_demo_reconnects_over_the_picked_transport(tab: Any, transport: str) -> None:
    page, other = tab(), tab()
    wait_connected(page, "websocket")
    page.select_option("#transport", transport)
    wait_connected(page, transport)
    assert page.locator("#text").is_enabled()
    wait_connected(other, "websocket")
    page.fill("#text", f"over {transport}")
    page.click("#send")
    # Exactly the message: "* someone joined over <transport>" may be in the log too.
    other.locator("#log div").get_by_text(f"over {transport}", exact=True).wait_for(timeout=TIMEOUT_MS)
    assert page.errors == []
