"""sockjs-client's websocket transport in Chromium against a server with websocket_compression on.

Chromium offers ``permessage-deflate; client_max_window_bits`` on every
WebSocket. The browser's own record of the handshake (the DevTools
protocol's Network.webSocketHandshakeResponseReceived) shows what the
server agreed, and the server's /stats count the compressed connections;
the messages, the awkward ones included, must come back equal.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.e2e_support import CROSS_ORIGIN, SOCKJS_PATH, PageHandle, start_testserver

pytestmark = pytest.mark.browser

OPTIONS = {"transports": ["websocket"], "timeout": 10_000}

ECHO = r"""async ({url, options}) => {
  const sent = [];
  for (let i = 0; i < 300; i++) sent.push('{"seq": ' + i + ', "text": "the same JSON again and again"}');
  sent.push('\u2028 \u0000 \uffff "q" \\ \u{1F600}', 'x'.repeat(100000), 'END');
  const c = E2E.connect(url, options);
  await c.opens();
  sent.forEach((m) => c.send(m));
  await c.receivesMessage('END');
  return {transport: c.transport, problems: E2E.compare(sent, c.messages)};
}"""


@pytest.fixture(scope="module")
def deflate_server(servers: Any) -> Iterator[Any]:
    """A test server with compression on; its log is checked like the others' (it joins servers.running)."""
    pages = servers.pages()
    running = start_testserver("--sockjs-url", pages.url(SOCKJS_PATH), "--websocket-compression")
    servers.running.append(running)
    yield running
    servers.running.remove(running)
    running.stop()


def handshakes(handle: PageHandle) -> list[dict[str, str]]:
    """The response headers of every WebSocket handshake the page makes from now on (names in lower case)."""
    seen: list[dict[str, str]] = []
    cdp = handle.context.new_cdp_session(handle.page)
    cdp.on(
        "Network.webSocketHandshakeResponseReceived",
        lambda event: seen.append({k.lower(): v for k, v in event["response"]["headers"].items()}),
    )
    cdp.send("Network.enable")
    return seen


def compressed_count(server: Any) -> int:
    with urllib.request.urlopen(server.url("/stats"), timeout=5) as response:
        return json.load(response)["/echo"]["websocket_compressed"]


def echo(handle: PageHandle, base: str) -> dict:
    result = handle.run(ECHO, {"url": base + "/echo", "options": OPTIONS})
    handle.run("() => true")  # one more round trip: DevTools events sent before it have been handled
    return result


def test_sockjs_client_websocket_works_compressed(origin_page: Any, deflate_server: Any) -> None:
    handle = origin_page(CROSS_ORIGIN, sockjs_base=deflate_server.base_url)
    seen = handshakes(handle)
    before = compressed_count(deflate_server)
    result = echo(handle, deflate_server.base_url)
    assert result["transport"] == "websocket" and result["problems"] == [], result
    (headers,) = seen
    assert (
        headers.get("sec-websocket-extensions")
        == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    ), headers
    assert compressed_count(deflate_server) == before + 1


def test_without_the_option_chromium_gets_a_plain_websocket(origin_page: Any) -> None:
    handle = origin_page(CROSS_ORIGIN)
    seen = handshakes(handle)
    result = echo(handle, handle.origin.sockjs_base)
    assert result["transport"] == "websocket" and result["problems"] == [], result
    (headers,) = seen
    assert "sec-websocket-extensions" not in headers, headers
