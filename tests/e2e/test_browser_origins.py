"""allowed_origins in real Chromium: the iframe transports work for an allowed
page, and a page of the same site that hides its referrer gets nothing.

The cross-origin test server's /origin_echo allows the page server's origin
(http://127.0.0.1:PAGES). The "other page" is another port of the same
host (same site, not allowed) served with ``Referrer-Policy: no-referrer``:
its <script>, <iframe> and EventSource requests carry neither Origin nor
Referer, only ``Sec-Fetch-Site: same-site``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.e2e_support import CROSS_ORIGIN, PAGE_PATH, Origin, PageHandle, PageServer

pytestmark = pytest.mark.browser
REFUSAL = r"WARNING sockjs_gevent: refused a request from origin"
REFUSED = pytest.mark.expect_log(REFUSAL)


@pytest.fixture
def refusal_logged(servers: Any) -> Iterator[None]:
    """The test expects the server to refuse, and log it: wait for that line before the test ends,
    so it cannot arrive during the next test (the log comes through a pipe)."""
    server = servers.origin(CROSS_ORIGIN).server
    mark = len(server.output)
    yield
    server.out.wait_for(REFUSAL, timeout=10, start=mark)


ECHO = """async ({url, options}) => {
  const c = E2E.connect(url, options);
  await c.opens();
  const sent = ['one', 'two', 'END'];
  sent.forEach((m) => c.send(m));
  await c.receivesMessage('END');
  c.close();
  return {transport: c.transport, problems: E2E.compare(sent, c.messages)};
}"""

NEVER_OPENS = """async ({url, options}) => {
  const c = E2E.connect(url, options);
  const closed = await c.closes({timeoutMs: 20000});
  return {opened: c.opened, received: c.messages.length, closed};
}"""

SCRIPT_TAG = """({url}) => new Promise((resolve) => {
  window.cb = (frame) => resolve('callback ran: ' + frame);
  const s = document.createElement('script');
  s.src = url;
  s.onerror = () => resolve('refused');
  document.head.appendChild(s);
})"""


@pytest.fixture(scope="module")
def other_page_server() -> Iterator[PageServer]:
    pages = PageServer(referrer_policy="no-referrer")
    yield pages
    pages.stop()


@pytest.fixture
def other_page(browser: Any, servers: Any, other_page_server: PageServer) -> Iterator[PageHandle]:
    allowed = servers.origin(CROSS_ORIGIN)
    handle = PageHandle(browser, Origin("other", other_page_server.url(PAGE_PATH), allowed.sockjs_base, allowed.server))
    yield handle
    handle.close()


@pytest.mark.parametrize(
    "transport",
    [
        "iframe-eventsource",
        "iframe-htmlfile",
        "iframe-xhr-polling",
        "websocket",
        "xhr-streaming",
        "eventsource",
        "xhr-polling",
        "jsonp-polling",
    ],
)
def test_every_transport_works_for_an_allowed_page(origin_page: Any, transport: str) -> None:
    page = origin_page(CROSS_ORIGIN)
    url = page.origin.service("/origin_echo")
    result = page.run(ECHO, {"url": url, "options": {"transports": [transport], "timeout": 10_000}})
    assert result == {"transport": transport, "problems": []}


@REFUSED
@pytest.mark.parametrize("transport", ["iframe-eventsource", "iframe-htmlfile", "iframe-xhr-polling", "jsonp-polling"])
def test_a_same_site_page_hiding_its_referrer_gets_no_session(
    other_page: PageHandle, transport: str, refusal_logged: None
) -> None:
    url = other_page.origin.service("/origin_echo")
    result = other_page.run(NEVER_OPENS, {"url": url, "options": {"transports": [transport], "timeout": 2000}})
    assert result["opened"] is False and result["received"] == 0, result


@REFUSED
def test_a_script_tag_from_that_page_is_refused(other_page: PageHandle, refusal_logged: None) -> None:
    url = other_page.origin.service(f"/origin_echo/000/{uuid.uuid4().hex}/jsonp?c=cb")
    assert other_page.run(SCRIPT_TAG, {"url": url}) == "refused"


FRAME_RUNS = """({url, graceMs}) => new Promise((resolve) => {
  // sockjs-client's iframe page posts {"type":"s"} to its parent once it runs.
  window.addEventListener('message', (e) => {
    if (typeof e.data === 'string' && e.data.indexOf('"type":"s"') >= 0) resolve('ran');
  });
  const f = document.createElement('iframe');
  f.src = url + '#e2e-probe';
  f.onload = () => setTimeout(() => resolve('did not run'), graceMs);
  document.body.appendChild(f);
})"""


def test_the_allowed_page_can_run_the_iframe_page(origin_page: Any) -> None:
    page = origin_page(CROSS_ORIGIN)
    assert page.run(FRAME_RUNS, {"url": page.origin.service("/origin_echo/iframe.html"), "graceMs": 10_000}) == "ran"


@REFUSED
def test_that_page_cannot_run_the_iframe_page_as_a_relay(other_page: PageHandle, refusal_logged: None) -> None:
    url = other_page.origin.service("/origin_echo/iframe.html")
    assert other_page.run(FRAME_RUNS, {"url": url, "graceMs": 1000}) == "did not run"
