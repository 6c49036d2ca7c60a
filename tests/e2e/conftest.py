"""Fixtures of the browser tests: one Chromium, one SockJS server per origin mode.

- ``browser``: Debian's headless Chromium under Playwright, for the whole session.
- ``servers``: the page server and the SockJS servers (see e2e_support.Servers),
  started when a test first needs them.
- ``origin_page(mode)``: a fresh page (own browser context) on the test page of
  that origin mode, closed after the test.
- ``new_tab(url)``: a fresh page (own browser context) on any URL, recording
  its page errors and websocket URLs; closed after the test (the example apps).

After every test that uses the servers, the SockJS servers' logs are checked:
a traceback, an ERROR or a WARNING logged while the test ran fails it (as an
error in teardown, quoting the log), unless the test expects it with
``@pytest.mark.expect_log(regex)``. A failing test also gets the browser
console of its pages in its report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.e2e_support import LIVE_PAGES, LOG_PROBLEM, Origin, PageHandle, Servers, launch_browser


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-test.txt)")
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    browser = launch_browser(playwright)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    running = Servers()
    yield running
    running.stop()


@pytest.fixture
def origin_page(browser: Any, servers: Servers) -> Iterator[Callable[..., PageHandle]]:
    """``origin_page(mode, page_url=None, sockjs_base=None)``: a fresh page, closed after the test."""
    opened: list[PageHandle] = []

    def factory(mode: str, page_url: str | None = None, sockjs_base: str | None = None) -> PageHandle:
        origin = servers.origin(mode)
        if page_url is not None or sockjs_base is not None:
            origin = Origin(mode, page_url or origin.page_url, sockjs_base or origin.sockjs_base, origin.server)
        handle = PageHandle(browser, origin)
        opened.append(handle)
        return handle

    yield factory
    for handle in opened:
        handle.close()


@pytest.fixture
def new_tab(browser: Any) -> Iterator[Callable[[str], Any]]:
    """``new_tab(url)``: a page in a browser context of its own, loaded; ``page.errors`` and ``page.websockets``
    collect its uncaught page errors and the URLs of the websockets it opens."""
    contexts: list[Any] = []

    def open_tab(url: str) -> Any:
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.websockets = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("websocket", lambda ws: page.websockets.append(ws.url))
        page.goto(url, wait_until="load")
        return page

    yield open_tab
    for context in contexts:
        context.close()


@pytest.fixture(autouse=True)
def _check_server_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test during which a SockJS server logged a problem."""
    if "servers" not in request.fixturenames:
        yield
        return
    servers: Servers = request.getfixturevalue("servers")
    expected = [re.compile(m.args[0]) for m in request.node.iter_markers("expect_log")]
    marks = {id(s): len(s.output) for s in servers.running}
    yield
    problems = []
    for server in servers.running:
        new_lines = server.output[marks.get(id(server), 0) :]
        unexpected = [line for line in new_lines if not any(p.search(line) for p in expected)]
        if any(LOG_PROBLEM.search(line) for line in unexpected):
            problems.append(
                f"--- log of the SockJS server on port {server.port} during the test:\n" + "".join(new_lines)
            )
    if problems:
        pytest.fail("the SockJS server logged problems during this test:\n" + "\n".join(problems), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and LIVE_PAGES:
        for handle in LIVE_PAGES:
            if handle.console:
                report.sections.append(
                    (f"browser console ({handle.origin.page_url})", "\n".join(handle.console[-100:]))
                )
