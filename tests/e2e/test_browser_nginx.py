"""Real sockjs-client in real Chromium through nginx running examples/nginx.conf.

The page comes from the e2e page server (another origin, as with a CDN
or an app on its own host); every SockJS request goes to nginx, which
proxies it to the test services (tests/deploy/nginxproc.py renders the
example with the ports of this run). One page load per transport: it
echoes a few messages on ``/origin_echo`` and asks ``/whoami`` what the
server saw.

``/origin_echo`` allows only the page's origin and the service's own: the
iframe transports' requests come from an iframe on nginx's origin, so they
pass only if nginx forwards the ``Host`` the browser used, port included
(``proxy_set_header Host $http_host``).

htmlfile is not among the transports: sockjs-client uses it only when the
page is same-origin with the server (e2e_support.CROSS_ORIGIN_UNSUPPORTED);
iframe-htmlfile is its cross-origin form and is here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy.nginxproc import RunningNginx, available_backends, mark, nginx_in_front, problems, wait_answers
from tests.e2e.e2e_support import (
    CROSS_ORIGIN,
    CROSS_ORIGIN_UNSUPPORTED,
    PAGE_PATH,
    SERVER_TRANSPORT,
    SOCKJS_PATH,
    TRANSPORTS,
    Origin,
    PageHandle,
    Servers,
)

pytestmark = pytest.mark.browser

NGINX_TRANSPORTS = [t for t in TRANSPORTS if t not in CROSS_ORIGIN_UNSUPPORTED]
#: As in test_browser_transports.py: one forced transport gets time to open on a slow machine.
OPEN_TIMEOUT_MS = 10_000


@pytest.fixture(scope="module", params=available_backends())
def nginx(request: pytest.FixtureRequest, servers: Servers) -> Iterator[RunningNginx]:
    """nginx in front of one backend (nginxproc.TESTED_BACKENDS), for the module."""
    pages = servers.pages()
    with nginx_in_front(request.param, sockjs_url=pages.url(SOCKJS_PATH), allowed_origins=[pages.base_url]) as running:
        wait_answers(running)
        yield running


@pytest.fixture
def origin(nginx: RunningNginx, servers: Servers) -> Iterator[Origin]:
    """The page server's page, with its SockJS services behind nginx; nginx and backend logs checked after."""
    since = mark(nginx)
    yield Origin(CROSS_ORIGIN, servers.pages().url(PAGE_PATH), nginx.base_url, nginx)
    found = problems(nginx, since)
    assert not found, "problems logged during the test:\n" + "\n".join(found)


THROUGH_NGINX = """async ({echoUrl, whoamiUrl, options}) => {
  const sent = ['one', 'two \\u00e9\\u6f22 \\u{1F600}', '</script><!--', 'x'.repeat(5000), '', 'END'];
  const c = E2E.connect(echoUrl, options);
  await c.opens();
  sent.forEach((m) => c.send(m));
  await c.receivesMessage('END');
  const w = E2E.connect(whoamiUrl, options);
  await w.opens();
  const [first] = await w.receives(1);
  return {transport: c.transport, whoamiTransport: w.transport, problems: E2E.compare(sent, c.messages),
          whoami: JSON.parse(first)};
}"""


@pytest.mark.parametrize("transport", NGINX_TRANSPORTS)
def test_transport_through_nginx(browser: Any, origin: Origin, transport: str) -> None:
    handle = PageHandle(browser, origin)
    try:
        result = handle.run(
            THROUGH_NGINX,
            {
                "echoUrl": origin.service("/origin_echo"),
                "whoamiUrl": origin.service("/whoami"),
                "options": {"transports": [transport], "timeout": OPEN_TIMEOUT_MS},
            },
        )
        websockets = list(handle.websockets)
    finally:
        handle.close()
    assert result["transport"] == result["whoamiTransport"] == transport, result
    assert result["problems"] == [], result
    whoami = result["whoami"]
    assert whoami["transport"] == SERVER_TRANSPORT[transport], whoami
    assert whoami["headers"].get("x-forwarded-for") == "127.0.0.1", whoami
    assert whoami["headers"].get("x-forwarded-proto") == "http", whoami
    if transport == "websocket":
        nginx_ws = f"ws://{origin.server.host}:{origin.server.port}/"
        assert websockets and all(url.startswith(nginx_ws) for url in websockets), websockets
    else:
        assert websockets == [], websockets
