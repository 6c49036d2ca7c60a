"""What the browser tests and tests/e2e/measure_connect.py share.

- the test pages, their harness scripts, sockjs-client and websocket-multiplex's
  client, served under ``/e2e/`` by whichever server a test uses (``static_file``);
- ``PageServer``: a thread serving only those files, the "other origin" of the
  cross-origin tests;
- ``Servers``: the SockJS servers of both origin modes, started on demand;
- ``launch_browser``: Debian's Chromium under Playwright.

Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from testkit.serverproc import ROOT, poll_until, start_server, start_testserver

HERE = os.path.dirname(os.path.abspath(__file__))
PAGES = os.path.join(HERE, "pages")
SOCKJS_CLIENT = os.path.join(ROOT, "node_modules", "sockjs-client", "dist", "sockjs.min.js")
#: npm websocket-multiplex 0.1.0's browser client.
MULTIPLEX_CLIENT = os.path.join(ROOT, "node_modules", "websocket-multiplex", "multiplex_client.js")

PAGE_PATH = "/e2e/e2e.html"
MULTIPLEX_PAGE_PATH = "/e2e/multiplex.html"
SOCKJS_PATH = "/e2e/sockjs.min.js"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SAME_ORIGIN = "same-origin"
CROSS_ORIGIN = "cross-origin"
MODES = [SAME_ORIGIN, CROSS_ORIGIN]

# Every transport sockjs-client 1.x offers Chromium (the xdr ones are IE-only).
TRANSPORTS = [
    "websocket",
    "xhr-streaming",
    "eventsource",
    "iframe-eventsource",
    "htmlfile",
    "iframe-htmlfile",
    "xhr-polling",
    "iframe-xhr-polling",
    "jsonp-polling",
]
STREAMING = {"websocket", "xhr-streaming", "eventsource", "iframe-eventsource", "htmlfile", "iframe-htmlfile"}
POLLING = {"xhr-polling", "iframe-xhr-polling", "jsonp-polling"}

# The name the server gives each transport (Connection.transport).
SERVER_TRANSPORT = {
    "websocket": "websocket",
    "xhr-streaming": "xhr-streaming",
    "eventsource": "eventsource",
    "iframe-eventsource": "eventsource",
    "htmlfile": "htmlfile",
    "iframe-htmlfile": "htmlfile",
    "xhr-polling": "xhr-polling",
    "iframe-xhr-polling": "xhr-polling",
    "jsonp-polling": "jsonp-polling",
}

# Transports that sockjs-client itself never uses cross-origin in Chromium,
# with the reason (the tests skip these combinations and prove the refusal).
CROSS_ORIGIN_UNSUPPORTED = {
    "htmlfile": (
        "sockjs-client enables htmlfile only when the page is same-origin with the server "
        "(HtmlFileTransport.enabled requires info.sameOrigin): the htmlfile document calls "
        "parent.<callback>, which a cross-origin parent forbids; iframe-htmlfile is the "
        "cross-origin form and is tested"
    ),
}

_STATIC = {
    PAGE_PATH: (os.path.join(PAGES, "e2e.html"), "text/html; charset=utf-8"),
    "/e2e/harness.js": (os.path.join(PAGES, "harness.js"), "application/javascript; charset=utf-8"),
    SOCKJS_PATH: (SOCKJS_CLIENT, "application/javascript; charset=utf-8"),
    MULTIPLEX_PAGE_PATH: (os.path.join(PAGES, "multiplex.html"), "text/html; charset=utf-8"),
    "/e2e/multiplex.js": (os.path.join(PAGES, "multiplex.js"), "application/javascript; charset=utf-8"),
    "/e2e/multiplex_client.js": (MULTIPLEX_CLIENT, "application/javascript; charset=utf-8"),
}


def static_file(path: str) -> tuple[bytes, str] | None:
    """(body, content type) of a test file under /e2e/, or None."""
    entry = _STATIC.get(path.split("?", 1)[0])
    if entry is None:
        return None
    filename, content_type = entry
    with open(filename, "rb") as f:
        return f.read(), content_type


def check_sockjs_client() -> None:
    for path in (SOCKJS_CLIENT, MULTIPLEX_CLIENT):
        if not os.path.exists(path):
            raise RuntimeError(f"{path} not found: run `bash scripts/bootstrap.sh` (npm packages of package.json)")


# --- the page server (the other origin) -------------------------------------------------


class _PageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: A Referrer-Policy for the pages, e.g. "no-referrer" (a page hiding where it is).
    referrer_policy: str | None = None

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        found = static_file(self.path)
        if found is None:
            body, status, content_type = b"Not found.\n", 404, "text/plain"
        else:
            (body, content_type), status = found, 200
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        if self.referrer_policy:
            self.send_header("Referrer-Policy", self.referrer_policy)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class PageServer:
    """Serves the test page and sockjs-client from its own port, in a thread."""

    def __init__(self, referrer_policy: str | None = None) -> None:
        check_sockjs_client()
        handler = type("PageHandler", (_PageHandler,), {"referrer_policy": referrer_policy})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="e2e-page-server", daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- the SockJS servers --------------------------------------------------------------


# Lines of a server log that mean something went wrong.
LOG_PROBLEM = re.compile(r"Traceback|\b(ERROR|CRITICAL|WARNING)\b| failed with ")


@dataclass
class Origin:
    """Where the page comes from and where its SockJS services are."""

    mode: str
    page_url: str
    sockjs_base: str  # e.g. http://127.0.0.1:PORT, services at /echo etc.
    server: Any  # the RunningServer behind sockjs_base

    def service(self, prefix: str) -> str:
        return self.sockjs_base + prefix


class Servers:
    """The page server and one SockJS server per origin mode, started when first needed.

    same-origin: ``same_origin_server.py`` serves the conformance services of
    sockjs_gevent.testserver and, as the fallback of the same WSGI app, the test
    page: page and SockJS share one origin, like an app mounted with
    ``Router(services, fallback=app)``; its iframe page loads sockjs-client by
    path (``/e2e/sockjs.min.js``).

    cross-origin: the unmodified ``python -m sockjs_gevent.testserver`` on one
    port, the page on the page server's port; ``--sockjs-url`` points at the
    page server's sockjs-client, as a CDN would.
    """

    def __init__(self) -> None:
        self.page_server: PageServer | None = None
        self._origins: dict[str, Origin] = {}
        self.running: list[Any] = []

    def pages(self) -> PageServer:
        if self.page_server is None:
            self.page_server = PageServer()
        return self.page_server

    def origin(self, mode: str) -> Origin:
        if mode not in self._origins:
            self._origins[mode] = self._start(mode)
        return self._origins[mode]

    def _start(self, mode: str) -> Origin:
        if mode == SAME_ORIGIN:
            check_sockjs_client()
            server = start_server(
                [
                    "-m",
                    "tests.e2e.same_origin_server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--sockjs-url",
                    SOCKJS_PATH,
                ]
            )
            self.running.append(server)
            return Origin(mode, server.url(PAGE_PATH), server.base_url, server)
        if mode == CROSS_ORIGIN:
            pages = self.pages()
            # /origin_echo allows the page server's origin (and no other local one).
            server = start_testserver("--sockjs-url", pages.url(SOCKJS_PATH), "--allowed-origin", pages.base_url)
            self.running.append(server)
            return Origin(mode, pages.url(PAGE_PATH), server.base_url, server)
        raise ValueError(mode)

    def stop(self) -> None:
        for server in self.running:
            server.stop()
        self.running.clear()
        self._origins.clear()
        if self.page_server is not None:
            self.page_server.stop()
            self.page_server = None


def service_stats(origin: Origin, prefix: str) -> dict[str, Any]:
    """The server's counters for one service (``GET /stats`` of the test server)."""
    with urllib.request.urlopen(origin.server.url("/stats"), timeout=5) as response:
        return json.load(response)[prefix]


def sessions_open(origin: Origin, prefix: str) -> int:
    return sum(service_stats(origin, prefix)["sessions_open"].values())


def wait_until(what: str, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Check ``predicate`` every 20 ms until it is truthy; AssertionError after ``timeout`` s.

    For server-side state only the server can report (the browser's side is
    awaited through its events instead).
    """
    return poll_until(predicate, timeout, what)


def launch_browser(playwright: Any) -> Any:
    """Debian's Chromium, headless (never a downloaded browser)."""
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(
            f"{CHROMIUM} not found: add `chromium` to scripts/apt-packages.txt and run scripts/bootstrap.sh"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


# Pages alive right now, so a failure report can show their consoles.
LIVE_PAGES: list[PageHandle] = []


class PageHandle:
    """A page with the harness loaded (``window.E2E``), its console and its origin."""

    def __init__(self, browser: Any, origin: Origin) -> None:
        self.origin = origin
        self.console: list[str] = []
        self.websockets: list[str] = []  # every WebSocket the page (or its iframes) opened
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        self.page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        self.page.on("websocket", lambda ws: self.websockets.append(ws.url))
        LIVE_PAGES.append(self)
        self.load()

    def load(self) -> None:
        self.page.goto(self.origin.page_url, wait_until="load")
        self.page.wait_for_function("() => window.E2E && window.SockJS", timeout=10_000)

    def run(self, script: str, arg: Any = None) -> Any:
        """Evaluate a JS function of one argument (async ones are awaited) and return its result."""
        return self.page.evaluate(script, arg)

    def reset(self) -> None:
        """Close the connections a test left open, then load the page afresh.

        The reload matters: a closed jsonp-polling client leaves its last poll
        (a script request) pending until the server's next heartbeat, and six
        of those fill Chromium's per-host connection pool. Leaving the
        document cancels them, as a user leaving the page would.
        """
        self.page.evaluate("() => E2E.closeAll()")
        self.load()

    def close(self) -> None:
        if self in LIVE_PAGES:
            LIVE_PAGES.remove(self)
        self.context.close()
