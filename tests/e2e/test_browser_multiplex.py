"""npm websocket-multiplex 0.1.0's real browser client in Chromium, against /multiplex.

tests/e2e/pages/multiplex.html loads sockjs-client and multiplex_client.js
(both from node_modules, served like the other test files) and the recorder
of pages/multiplex.js; each test drives one multiplexed SockJS connection
over websocket or xhr-streaming, with the page same-origin or cross-origin.
The /multiplex streams are those of sockjs_gevent.testserver.MULTIPLEX; the
``events`` stream hears ``closed TAG NAME CODE REASON`` from the others, so
a page can tell what the server-side handlers saw. Every wait is a promise
on the client's events (harness.js), never a sleep.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.e2e_support import (
    MODES,
    MULTIPLEX_PAGE_PATH,
    PAGE_PATH,
    SERVER_TRANSPORT,
    Origin,
    PageHandle,
    service_stats,
)

pytestmark = pytest.mark.browser

SERVICE = "/multiplex"
TRANSPORTS = ["websocket", "xhr-streaming"]
COMBOS = [(transport, mode) for mode in MODES for transport in TRANSPORTS]
OPEN_TIMEOUT_MS = 10_000


class MuxPage:
    def __init__(self, handle: PageHandle, transport: str) -> None:
        self.handle = handle
        self.transport = transport
        self.origin = handle.origin

    def run(self, script: str, **extra: Any) -> Any:
        options = {"transports": [self.transport], "timeout": OPEN_TIMEOUT_MS}
        return self.handle.run(script, {"url": self.origin.service(SERVICE), "options": options, **extra})


@pytest.fixture(scope="module", params=COMBOS, ids=[f"{t}-{m}" for t, m in COMBOS])
def combo_page(request: pytest.FixtureRequest, browser: Any, servers: Any) -> Iterator[PageHandle]:
    transport, mode = request.param
    origin = servers.origin(mode)
    page_url = origin.page_url.replace(PAGE_PATH, MULTIPLEX_PAGE_PATH)
    handle = PageHandle(browser, Origin(mode, page_url, origin.sockjs_base, origin.server))
    handle.transport = transport
    yield handle
    handle.close()


@pytest.fixture
def mp(combo_page: PageHandle) -> Iterator[MuxPage]:
    yield MuxPage(combo_page, combo_page.transport)
    combo_page.reset()


def tag() -> str:
    return uuid.uuid4().hex[:12]


TWO_CHANNELS = """async ({url, options}) => {
  const mux = E2E.multiplex(url, options);
  const echo = mux.channel('echo'), shout = mux.channel('shout');
  mux.channel('whoami');
  await mux.opens();
  const sent = ['a', 'b,c', '', 'd,,e,', 'msg,shout,not for shout', 'uns,echo', '\u00e9 \u2028 \\u0000 "q"'];
  sent.forEach((m) => { echo.channel.send(m); shout.channel.send(m); });
  echo.channel.send('END');
  shout.channel.send('END');
  await mux.receivesMessage('echo', 'END');
  await mux.receivesMessage('shout', 'END');
  await mux.receives('whoami', 1);
  return {transport: mux.client.transport, sent: sent, summary: mux.summary(), raw: mux.client.messages};
}"""


def test_two_channels_at_once(mp: MuxPage) -> None:
    """Messages with commas (and that look like frames) go to their own channel only, in order."""
    result = mp.run(TWO_CHANNELS)
    assert result["transport"] == mp.transport
    sent, summary = result["sent"], result["summary"]
    assert summary["echo"]["messages"] == sent + ["END"]
    assert summary["shout"]["messages"] == [m.upper() for m in sent] + ["END"]
    assert summary["echo"]["closes"] == summary["shout"]["closes"] == 0
    facts = json.loads(summary["whoami"]["messages"][0])
    assert facts == {"name": "whoami", "transport": SERVER_TRANSPORT[mp.transport], "path": SERVICE}
    assert "msg,echo,b,c" in result["raw"]  # on the SockJS connection: the wire format itself


SERVER_UNSUBSCRIBE = """async ({url, options}) => {
  const mux = E2E.multiplex(url, options);
  mux.channel('echo');
  mux.channel('shout');
  await mux.opens();
  mux.get('echo').channel.send('unsubscribe me');
  await mux.closes('echo');
  mux.get('shout').channel.send('still here');
  await mux.receivesMessage('shout', 'STILL HERE');
  const first = mux.summary();
  mux.channel('echo');                 // the name is free again: a new stream
  await mux.channelOpens('echo');
  mux.get('echo').channel.send('back');
  await mux.receivesMessage('echo', 'back');
  return {first: first, then: mux.summary()};
}"""


def test_server_side_unsubscribe(mp: MuxPage) -> None:
    """The handler closes its stream: the channel's onclose fires, the others go on, the name opens again."""
    result = mp.run(SERVER_UNSUBSCRIBE)
    assert result["first"]["echo"] == {"opened": True, "messages": [], "closes": 1}
    assert result["then"]["echo"] == {"opened": True, "messages": ["back"], "closes": 0}
    assert result["then"]["shout"]["closes"] == 0


CLIENT_UNSUBSCRIBE = """async ({url, options, tag}) => {
  const mux = E2E.multiplex(url, options);
  mux.channel('events');
  mux.channel('echo');
  mux.channel('shout');
  await mux.opens();
  await mux.receivesMessage('events', 'listening');
  mux.get('echo').channel.send('tag ' + tag);
  await mux.receivesMessage('echo', 'tag ' + tag);
  mux.get('echo').channel.close();
  await mux.closes('echo');
  await mux.receivesMessage('events', 'closed ' + tag + ' echo 1000 Unsubscribed');
  mux.get('shout').channel.send('on');
  await mux.receivesMessage('shout', 'ON');
  return mux.summary();
}"""


def test_client_side_unsubscribe(mp: MuxPage) -> None:
    """channel.close() sends uns: the server's handler sees its stream close (1000 Unsubscribed)."""
    summary = mp.run(CLIENT_UNSUBSCRIBE, tag=tag())
    assert summary["echo"]["closes"] == 1
    assert summary["shout"]["closes"] == 0


SESSION_CLOSE = """async ({url, options, tag, byServer}) => {
  const watcher = E2E.multiplex(url, options);   // another connection, hearing the reports
  watcher.channel('events');
  await watcher.opens();
  await watcher.receivesMessage('events', 'listening');
  const mux = E2E.multiplex(url, options);
  mux.channel('echo');
  mux.channel('shout');
  mux.channel('kick');
  await mux.opens();
  mux.get('echo').channel.send('tag ' + tag);
  mux.get('shout').channel.send('tag ' + tag);
  await mux.receivesMessage('echo', 'tag ' + tag);
  await mux.receivesMessage('shout', 'TAG ' + tag.toUpperCase());
  if (byServer) {
    mux.get('kick').channel.send('go');
  } else {
    mux.client.close();
  }
  const closed = await mux.client.closes();
  const reports = [];
  for (const name of ['echo', 'shout']) {
    const prefix = 'closed ' + tag + ' ' + name + ' ';
    const reported = () => watcher.get('events').messages.some((m) => m.startsWith(prefix));
    await watcher.client.until('report of ' + name, reported);
    reports.push(watcher.get('events').messages.find((m) => m.startsWith(prefix)));
  }
  return {closed: closed, reports: reports, summary: mux.summary()};
}"""


def test_session_closed_by_the_server_ends_every_stream(mp: MuxPage) -> None:
    """A stream closes the whole connection: SockJS onclose gets its code, every handler sees it."""
    t = tag()
    result = mp.run(SESSION_CLOSE, tag=t, byServer=True)
    assert (result["closed"]["code"], result["closed"]["reason"]) == (3001, "Kicked")
    assert result["reports"] == [f"closed {t} echo 3001 Kicked", f"closed {t} shout 3001 Kicked"]
    # multiplex_client.js does not tell its channels that the connection closed:
    # a page must watch the SockJS object's own onclose.
    assert [result["summary"][n]["closes"] for n in ("echo", "shout", "kick")] == [0, 0, 0]


def test_session_closed_by_the_page_ends_every_stream(mp: MuxPage) -> None:
    """The page closes its SockJS connection: every stream handler on the server sees the close."""
    t = tag()
    result = mp.run(SESSION_CLOSE, tag=t, byServer=False)
    assert result["closed"]["code"] == 1000
    for name, report in zip(("echo", "shout"), result["reports"], strict=True):
        assert report.startswith(f"closed {t} {name} "), report


UNKNOWN_AND_CRASH = """async ({url, options}) => {
  const mux = E2E.multiplex(url, options);
  mux.channel('no such stream');
  mux.channel('crash');
  mux.channel('echo');
  await mux.opens();
  await mux.closes('no such stream');
  mux.get('crash').channel.send('boom');
  await mux.closes('crash');
  mux.get('echo').channel.send('alive');
  await mux.receivesMessage('echo', 'alive');
  return {summary: mux.summary(), raw: mux.client.messages};
}"""


@pytest.mark.expect_log(r"Traceback|ERROR sockjs_gevent.multiplex: stream handler .* failed")
def test_unknown_stream_and_crashing_handler_close_only_their_channel(mp: MuxPage) -> None:
    before = service_stats(mp.origin, SERVICE)["problems"]
    result = mp.run(UNKNOWN_AND_CRASH)
    summary = result["summary"]
    # The client calls a channel open as soon as it has sent sub; the server's uns closes it.
    assert summary["no such stream"] == {"opened": True, "messages": [], "closes": 1}
    assert "uns,no%20such%20stream" in result["raw"]  # the name as the client escaped it
    assert summary["crash"]["closes"] == 1
    assert summary["echo"] == {"opened": True, "messages": ["alive"], "closes": 0}
    after = service_stats(mp.origin, SERVICE)["problems"]
    assert after.get("multiplex_unknown", 0) == before.get("multiplex_unknown", 0) + 1
    assert after.get("handler", 0) == before.get("handler", 0) + 1
