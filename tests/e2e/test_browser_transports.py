"""Real sockjs-client 1.6.1 in real Chromium, one transport at a time.

Every transport sockjs-client offers is forced with
``new SockJS(url, null, {transports: [name]})`` and run against the
conformance services, with the page same-origin with the server and
cross-origin (page and server on different ports). Test ids name both, e.g.
``test_echo[xhr-polling-cross-origin-1000]``.

All the checks of one transport and origin mode run in one page (reloaded
between tests); each test opens its own connections and closes them. Waiting is done in the browser
(promises on sockjs-client's events, with timeouts), never by sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.e2e_support import (
    CROSS_ORIGIN,
    CROSS_ORIGIN_UNSUPPORTED,
    MODES,
    SERVER_TRANSPORT,
    TRANSPORTS,
    PageHandle,
    sessions_open,
    wait_until,
)

pytestmark = pytest.mark.browser

COMBOS = [(transport, mode) for mode in MODES for transport in TRANSPORTS]

# sockjs-client gives a transport rto * round trips (about 0.6-0.9 s on
# loopback) to open before it moves on; with one transport forced that would
# only turn a slow CI machine into "All transports failed". Opening speed is
# measured by measure_connect.py instead.
OPEN_TIMEOUT_MS = 10_000


class TransportPage:
    """The page of one transport and origin mode, and how to connect with it."""

    def __init__(self, handle: PageHandle, transport: str) -> None:
        self.handle = handle
        self.transport = transport
        self.origin = handle.origin
        self.options = {"transports": [transport], "timeout": OPEN_TIMEOUT_MS}

    def run(self, script: str, service: str, **extra: Any) -> Any:
        arg = {"url": self.origin.service(service), "options": self.options, **extra}
        return self.handle.run(script, arg)


@pytest.fixture(scope="module", params=COMBOS, ids=[f"{t}-{m}" for t, m in COMBOS])
def combo(request: pytest.FixtureRequest) -> tuple[str, str]:
    transport, mode = request.param
    if mode == CROSS_ORIGIN and transport in CROSS_ORIGIN_UNSUPPORTED:
        pytest.skip(f"{transport} cannot run cross-origin in Chromium: {CROSS_ORIGIN_UNSUPPORTED[transport]}")
    return request.param


@pytest.fixture(scope="module")
def combo_page(combo: tuple[str, str], browser: Any, servers: Any) -> Iterator[PageHandle]:
    transport, mode = combo
    handle = PageHandle(browser, servers.origin(mode))
    yield handle
    handle.close()


@pytest.fixture
def tp(combo: tuple[str, str], combo_page: PageHandle) -> Iterator[TransportPage]:
    yield TransportPage(combo_page, combo[0])
    combo_page.reset()


# --- the checks ---------------------------------------------------------------------------

WHOAMI = """async ({url, options}) => {
  const c = E2E.connect(url, options);
  await c.opens();
  const [first] = await c.receives(1);
  return {transport: c.transport, whoami: JSON.parse(first)};
}"""


def test_opens_with_the_forced_transport(tp: TransportPage) -> None:
    """sockjs-client reports the transport, and the server saw the same one."""
    result = tp.run(WHOAMI, "/whoami")
    assert result["transport"] == tp.transport
    whoami = result["whoami"]
    assert whoami["transport"] == SERVER_TRANSPORT[tp.transport], whoami
    assert whoami["path"].startswith("/whoami"), whoami
    assert whoami["remote_addr"] == "127.0.0.1", whoami
    assert "HeadlessChrome" in whoami["headers"].get("user-agent", ""), whoami


ECHO = """async ({url, options, count}) => {
  const c = E2E.connect(url, options);
  await c.opens();
  const sent = [];
  for (let i = 0; i < count; i++) sent.push('message ' + i);
  sent.push('END');
  sent.forEach((m) => c.send(m));
  await c.receivesMessage('END');
  return {transport: c.transport, received: c.messages.length, problems: E2E.compare(sent, c.messages)};
}"""


@pytest.mark.parametrize("count", [1, 100, 1000])
def test_echo(tp: TransportPage, count: int) -> None:
    """COUNT messages then END to /echo (response_limit 4096) come back in order, once each."""
    result = tp.run(ECHO, "/echo", count=count)
    assert result["transport"] == tp.transport
    assert result["problems"] == [], result


AWKWARD = r"""async ({url, options}) => {
  const list = [];
  const controls = Array.from({length: 32}, (_, i) => String.fromCharCode(i));
  list.push(controls.join(''));
  controls.forEach((ch) => list.push('<' + ch + '>'));
  list.push('\u2028', '\u2029', 'line\u2028separator\u2029paragraph', '\uffff', '\ufffe', '\u200c',
            'zero\u200cwidth\u200dnon\u200ejoiner\u200f', '\ufeffBOM', '\u00a0nbsp');
  // every range docs/protocol.md makes the server escape
  let ranges = '';
  for (const [a, b] of [[0x200c, 0x200f], [0x2028, 0x202f], [0x2060, 0x206f], [0xfff0, 0xffff]]) {
    for (let code = a; code <= b; code++) ranges += String.fromCharCode(code);
  }
  list.push(ranges);
  // characters sockjs-client escapes on the way out (combining marks and friends)
  list.push('e\u0301 a\u0300\u0333 \u0374\u037e\u0387 \u05c4 \u0958 \uf900 \ufb1d');
  list.push('"', "'", '""', '\\', '\\\\', '\\"', '\\u0000', '\\n', '"\\', 'back\\slash "double" \'single\'');
  list.push('', ' ', '%', '%25', '%0A%0D%00', '\r\n', '\r\n\r\ndata: x\r\n\r\n', 'a["x"]', 'c[3000,"Go away!"]',
            'o', 'h', '[]', '["a","b"]', '</script><script>window.bad = 1</script>', '<!--', ']]>', '&amp;');
  list.push('\u{1F600}', '\u{1F44D}\u{1F3FD}', '\u{1F468}\u200d\u{1F469}\u200d\u{1F467}\u200d\u{1F466}',
            '\u{1F3F3}\ufe0f\u200d\u{1F308}', '\u{1D11E}',
            'mixed \u6f22\u5b57 \u00fcn\u00efc\u00f6d\u00e9 \u{1F600} \u0000 \u2028 "q" \\b');
  const unit = 'The quick "brown" fox \\ jumps \u{1F98A} over \u2028 the lazy dog\u0000 \u00e9\u6f22. ';
  let big = '';
  while (big.length < 102400) big += unit;
  big = big.slice(0, 102400);
  if (/[\ud800-\udbff]$/.test(big)) big = big.slice(0, -1) + '.';
  list.push(big);

  const c = E2E.connect(url, options);
  await c.opens();
  const sent = list.concat(['END']);
  sent.forEach((m) => c.send(m));
  await c.receivesMessage('END');
  return {transport: c.transport, count: sent.length, bigLength: big.length, problems: E2E.compare(sent, c.messages)};
}"""


def test_awkward_characters(tp: TransportPage) -> None:
    """Control characters, U+2028/9, U+FFFF, U+200C, quotes, backslashes, emoji and 100 KiB come back equal."""
    result = tp.run(AWKWARD, "/echo")
    assert result["transport"] == tp.transport
    assert result["bigLength"] == 102400
    assert result["problems"] == [], result


HTML_COMMENT = r"""async ({url, options}) => {
  // In an htmlfile <script>, "<!--" then "<script" made Chromium's parser
  // swallow the frames that followed: only "one" and "five" arrived.
  // Each goes alone and is echoed in its own frame before the next is sent.
  const sent = ['one', '<!--<script>', 'three', 'four', '--> x', 'five', '</script><!--', 'END'];
  const c = E2E.connect(url, options);
  await c.opens();
  for (let i = 0; i < sent.length; i++) {
    c.send(sent[i]);
    try {
      await c.receives(i + 1, {timeoutMs: 5000});
    } catch (e) {
      return {transport: c.transport, problems: ['message ' + i + ' never arrived: ' + e.message]};
    }
  }
  return {transport: c.transport, problems: E2E.compare(sent, c.messages)};
}"""


def test_html_comment_and_script_markup_in_messages(tp: TransportPage) -> None:
    """Markup that would end or hide an htmlfile <script> comes back whole, on every transport."""
    result = tp.run(HTML_COMMENT, "/echo")
    assert result["problems"] == [], result


LONE_SURROGATES = r"""async ({url, options}) => {
  const sent = ['\ud800', '\udfff', 'a\ud83db', '\udc00\ud800', 'x\ud83d', 'END'];
  const c = E2E.connect(url, options);
  await c.opens();
  sent.forEach((m) => c.send(m));
  await c.receivesMessage('END');
  return {transport: c.transport, problems: E2E.compare(sent, c.messages)};
}"""


def test_lone_surrogates(tp: TransportPage) -> None:
    """JS strings may hold lone surrogates; docs/protocol.md says they come back escaped and equal."""
    result = tp.run(LONE_SURROGATES, "/echo")
    assert result["problems"] == [], result


AMPLIFY = """async ({url, options}) => {
  const c = E2E.connect(url, options);
  await c.opens();
  for (let n = 1; n <= 18; n++) c.send(String(n));
  c.send('3');
  await c.receives(19);
  return {
    transport: c.transport,
    lengths: c.messages.map((m) => m.length),
    notAllX: c.messages.map((m, i) => /^x*$/.test(m) ? null : i).filter((i) => i !== null),
  };
}"""


def test_amplify(tp: TransportPage) -> None:
    """Replies of 2 B .. 256 KiB cross the 128 KiB response limit: none lost, doubled or mangled."""
    result = tp.run(AMPLIFY, "/amplify")
    assert result["transport"] == tp.transport
    assert result["notAllX"] == []
    assert result["lengths"] == [2**n for n in range(1, 19)] + [8]


SERVER_CLOSE = """async ({url, options}) => {
  const c = E2E.connect(url, options);
  const closed = await c.closes();
  return {transport: c.transport, opened: c.opened, messages: c.messages.length, closed};
}"""


def test_server_close(tp: TransportPage) -> None:
    """/close opens, then onclose gets 3000 "Go away!"."""
    result = tp.run(SERVER_CLOSE, "/close")
    assert result["opened"] is True, result
    assert result["transport"] == tp.transport
    assert result["messages"] == 0
    assert result["closed"] == {"code": 3000, "reason": "Go away!", "wasClean": True, "afterOpen": True}


OPEN_TWO = """async ({url, options, token}) => {
  const a = E2E.connect(url, options);
  const b = E2E.connect(url, options);
  window.pair = {a, b};
  await a.opens();
  await b.opens();
  a.send('from a ' + token);
  await a.receivesMessage('from a ' + token);
  await b.receivesMessage('from a ' + token);
  return [a.transport, b.transport];
}"""

CLOSE_A = """async ({token}) => {
  const {a, b} = window.pair;
  a.close();
  const aClosed = await a.closes();
  b.send('from b ' + token);
  await b.receivesMessage('from b ' + token);
  return aClosed;
}"""

THIRD_JOINS = """async ({url, options, token}) => {
  const {a, b} = window.pair;
  const c = E2E.connect(url, options);
  await c.opens();
  c.send('from c ' + token);
  await c.receivesMessage('from c ' + token);
  await b.receivesMessage('from c ' + token);
  return {
    transport: c.transport,
    aMessages: a.messages,
    bMine: b.messages.filter((m) => m.endsWith(' ' + token)),
  };
}"""

# A closed jsonp-polling client cannot tell the server: its last poll (a
# <script> request) stays pending after close(), so the server learns only
# after its next heartbeat (25 s) and the disconnect delay.
SERVER_CANNOT_SEE_CLIENT_CLOSE = {"jsonp-polling"}


def test_client_close(tp: TransportPage) -> None:
    """A client that closes gets 1000 itself, the server closes its session, the others on /broadcast carry on."""
    token = f"{tp.transport}-{tp.origin.mode}"
    wait_until(
        "no /broadcast session is left over from earlier tests", lambda: sessions_open(tp.origin, "/broadcast") == 0
    )
    assert tp.run(OPEN_TWO, "/broadcast", token=token) == [tp.transport] * 2
    assert sessions_open(tp.origin, "/broadcast") == 2
    a_closed = tp.run(CLOSE_A, "/broadcast", token=token)
    assert a_closed == {"code": 1000, "reason": "Normal closure", "wasClean": True, "afterOpen": True}
    if tp.transport not in SERVER_CANNOT_SEE_CLIENT_CLOSE:
        wait_until(
            "the server closed the session of the client that closed",
            lambda: sessions_open(tp.origin, "/broadcast") == 1,
            timeout=5.0,
        )
    result = tp.run(THIRD_JOINS, "/broadcast", token=token)
    assert result["transport"] == tp.transport
    assert result["aMessages"] == [f"from a {token}"]
    assert result["bMine"] == [f"from a {token}", f"from b {token}", f"from c {token}"]


COOKIE_ECHO = """async ({url, options}) => {
  const c = E2E.connect(url, options);
  await c.opens();
  const sent = ['one', 'two', 'three'];
  sent.forEach((m) => c.send(m));
  await c.receives(3);
  return {transport: c.transport, problems: E2E.compare(sent, c.messages)};
}"""


def test_cookie_needed_echo(tp: TransportPage, combo_page: PageHandle) -> None:
    """/cookie_needed_echo works; HTTP transports leave the JSESSIONID cookie in the browser."""
    combo_page.context.clear_cookies()
    result = tp.run(COOKIE_ECHO, "/cookie_needed_echo")
    assert result["transport"] == tp.transport
    assert result["problems"] == []
    if tp.transport != "websocket":  # docs/protocol.md asks for the cookie on HTTP transports only
        cookies = {c["name"]: c["value"] for c in combo_page.context.cookies(tp.origin.sockjs_base)}
        assert cookies.get("JSESSIONID") == "dummy", cookies


def test_htmlfile_is_refused_cross_origin_by_the_client(origin_page: Any) -> None:
    """Why htmlfile-cross-origin is skipped: sockjs-client will not even try it."""
    handle = origin_page(CROSS_ORIGIN)
    result = handle.run(
        """async ({url}) => {
      const c = E2E.connect(url, {transports: ['htmlfile']});
      const closed = await c.closes();
      return {opened: c.opened, closed};
    }""",
        {"url": handle.origin.service("/echo")},
    )
    assert result == {
        "opened": False,
        "closed": {"code": 2000, "reason": "All transports failed", "wasClean": False, "afterOpen": False},
    }
