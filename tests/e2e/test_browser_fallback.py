"""sockjs-client choosing its own transport when the network gets in the way.

No ``transports`` option here: the client picks, as it would in the field.

- WebSocket blocked, by the server (/disabled_websocket_echo: /info says
  ``websocket: false``) or by a proxy that drops the ``Upgrade`` header:
  the client ends on a streaming transport.
- A proxy that also buffers whole responses: streaming transports never
  open, each times out in turn, and the client ends on a polling transport
  with messages still delivered.

Both origin modes: same-origin (the page comes from the same server, or the
same proxy) and cross-origin (the page from the page server).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.e2e_proxy import TestProxy
from tests.e2e.e2e_support import CROSS_ORIGIN, MODES, PAGE_PATH, POLLING, SAME_ORIGIN, STREAMING

pytestmark = pytest.mark.browser

ECHO_AUTO = """async ({url, count}) => {
  const c = E2E.connect(url, {});
  await c.opens();
  const sent = [];
  for (let i = 0; i < count; i++) sent.push('message ' + i + ' \\u2028 "' + i + '"');
  sent.push('END');
  sent.forEach((m) => c.send(m));
  await c.receivesMessage('END');
  return {transport: c.transport, openMs: c.openMs, problems: E2E.compare(sent, c.messages)};
}"""


def proxied_page(origin_page: Any, servers: Any, proxy: TestProxy, mode: str) -> Any:
    """A page whose SockJS traffic goes through ``proxy`` to the cross-origin test server.

    same-origin: the proxy also serves the page; cross-origin: the page server does.
    """
    if mode == SAME_ORIGIN:
        return origin_page(CROSS_ORIGIN, page_url=proxy.url(PAGE_PATH), sockjs_base=proxy.base_url)
    return origin_page(CROSS_ORIGIN, sockjs_base=proxy.base_url)


@pytest.fixture(scope="module")
def upgrade_refusing_proxy(servers: Any) -> Iterator[TestProxy]:
    proxy = TestProxy(servers.origin(CROSS_ORIGIN).server.port, buffer=False).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def buffering_proxy(servers: Any) -> Iterator[TestProxy]:
    proxy = TestProxy(servers.origin(CROSS_ORIGIN).server.port, buffer=True).start()
    yield proxy
    proxy.stop()


@pytest.mark.parametrize("mode", MODES)
def test_disabled_websocket_falls_back_to_streaming(origin_page: Any, mode: str) -> None:
    handle = origin_page(mode)
    result = handle.run(ECHO_AUTO, {"url": handle.origin.service("/disabled_websocket_echo"), "count": 100})
    assert result["transport"] in STREAMING - {"websocket"}, result
    assert result["problems"] == [], result
    assert handle.websockets == [], "the client tried a WebSocket although /info said websocket: false"


@pytest.mark.parametrize("mode", MODES)
def test_upgrade_refusing_proxy_falls_back_to_streaming(
    origin_page: Any, servers: Any, upgrade_refusing_proxy: TestProxy, mode: str
) -> None:
    proxy = upgrade_refusing_proxy
    refused_before = proxy.refused_upgrades
    handle = proxied_page(origin_page, servers, proxy, mode)
    result = handle.run(ECHO_AUTO, {"url": handle.origin.service("/echo"), "count": 100})
    assert proxy.refused_upgrades > refused_before, "the client never attempted a WebSocket through the proxy"
    assert result["transport"] in STREAMING - {"websocket"}, result
    assert result["problems"] == [], result
    assert proxy.errors == []


@pytest.mark.parametrize("mode", MODES)
def test_buffering_proxy_falls_back_to_polling(
    origin_page: Any, servers: Any, buffering_proxy: TestProxy, mode: str
) -> None:
    proxy = buffering_proxy
    refused_before = proxy.refused_upgrades
    handle = proxied_page(origin_page, servers, proxy, mode)
    result = handle.run(ECHO_AUTO, {"url": handle.origin.service("/echo"), "count": 100})
    assert proxy.refused_upgrades > refused_before, "the client never attempted a WebSocket through the proxy"
    assert result["transport"] in POLLING, result
    assert result["problems"] == [], result
    amplified = handle.run(
        """async ({url}) => {
      const c = E2E.connect(url, {});
      await c.opens();
      for (let n = 1; n <= 17; n++) c.send(String(n));
      await c.receives(17);
      return {transport: c.transport, lengths: c.messages.map((m) => m.length)};
    }""",
        {"url": handle.origin.service("/amplify")},
    )
    assert amplified["transport"] in POLLING, amplified
    assert amplified["lengths"] == [2**n for n in range(1, 18)]
    assert proxy.errors == []
