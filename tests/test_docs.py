"""README.md and the documentation pages under docs/: every Python block runs, every relative link resolves.

Every ```python block of README.md and of docs/**/*.md follows a marker
line ``<!-- docs-test: NAME -->``, and a block without one fails
``test_every_python_block_has_a_marker``. The marker says how the block
is checked:

- ``<!-- docs-test: file PATH -->``: the block is that file of the
  repository, word for word (so the page shows what the tests run), and
  it compiles.
- ``<!-- docs-test: NAME -->``: the block is executed and ``CHECKS[NAME]``
  checks it does what the page says. A NAME may be used on several pages
  (the quickstart is on README.md and docs/index.md); every check must be
  used at least once. ``tests`` is the generic one: the block defines
  ``test_*`` functions, and each is called.

Blocks run in this process: ``monkey.patch_all()`` is made a no-op, and
``serve()`` and ``sockjs.run()`` record their app instead of serving, so a
block that would serve forever hands its app over and the check drives it
(with in-process clients, or a server on a free port of 127.0.0.1).

The build of the site itself (mkdocs, warnings as errors) is
tests/test_docs_build.py.
"""

from __future__ import annotations

import glob
import json
import os
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sockjs_gevent.testing import HandlerClient
from testkit.serverproc import ROOT, start_testserver

PAGES = [
    "README.md",
    *sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True)),
]
# A fence opening a Python block, however it is spelled, indented or not (in a list item).
FENCE = re.compile(r"^( *)```[ \t]*(?:python3?|py|pycon)\b[^\n]*\n(.*?)^\1```", re.S | re.M | re.I)
MARKER = re.compile(r"^\s*<!-- docs-test: ([^>]*?) -->\s*$")
PATCH_LINE = "from gevent import monkey; monkey.patch_all()"


@dataclass
class Block:
    page: str  # relative to the repository root
    line: int  # where the fence opens, 1-based
    marker: str | None  # what follows "docs-test:", None without a marker
    code: str  # dedented

    @property
    def kind(self) -> str:
        return (self.marker or "").partition(" ")[0]

    @property
    def argument(self) -> str:
        return (self.marker or "").partition(" ")[2]

    def sibling(self, name: str) -> Block:
        """The block of the same page marked ``name`` (a test block runs against its app block)."""
        (found,) = [b for b in page_blocks(self.page) if b.kind == name]
        return found

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def read(page: str) -> str:
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        return f.read()


def page_blocks(page: str) -> list[Block]:
    text = read(page)
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.match(before)
        blocks.append(
            Block(
                page,
                text.count("\n", 0, match.start()) + 1,
                marker.group(1) if marker else None,
                textwrap.dedent(match.group(2)),
            )
        )
    return blocks


def all_blocks() -> list[Block]:
    return [block for page in PAGES for block in page_blocks(page)]


# -- executing blocks ---------------------------------------------------------


def run_block(
    block: Block, monkeypatch: pytest.MonkeyPatch, namespace: dict | None = None, code: str | None = None
) -> dict[str, Any]:
    """Execute a block; serve()/run() record their app instead of serving (in ``namespace["_served"]``)."""
    from gevent import monkey

    import flask_sockjs
    import sockjs_gevent

    served: list[Any] = []
    monkeypatch.setattr(monkey, "patch_all", lambda *a, **k: None)  # not inside pytest's own process
    monkeypatch.setattr(sockjs_gevent, "serve", lambda app, *a, **k: served.append(app))
    monkeypatch.setattr(flask_sockjs.SockJS, "run", lambda self, app, *a, **k: served.append(app))
    namespace = namespace if namespace is not None else {"__name__": "docs"}
    exec(compile(code if code is not None else block.code, str(block), "exec"), namespace)
    namespace["_served"] = served
    return namespace


def run_tests_in(namespace: dict[str, Any], block: Block) -> None:
    tests = [value for name, value in namespace.items() if name.startswith("test_") and callable(value)]
    assert tests, f"{block} is marked as tests but defines no test_* function"
    for test in tests:
        test()


def check_tests(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    """A block of tests: each test_* function it defines passes."""
    run_tests_in(run_block(block, monkeypatch), block)


def check_echo(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run_block(block, monkeypatch)
    (app,) = ns["_served"]
    assert app.prefix == "/echo"
    with HandlerClient(app) as client:
        client.send("hello", "again")
        assert [client.recv(), client.recv()] == ["hello", "again"]


def check_flask(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    app_block = block if block.kind == "flask" else block.sibling("flask")
    ns = run_block(app_block, monkeypatch)
    assert ns["_served"] == []  # sockjs.run() only under __main__: importing the app must not serve
    run_block(app_block.sibling("flask-tests"), monkeypatch, ns)
    ns["test_chat_needs_login"]()
    ns["test_chat_echoes_for_logged_in_users"]()


def check_before_open(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run_block(block, monkeypatch)
    service = ns["service"]
    with HandlerClient(service, query_string="token=s3cret") as client:
        client.send("hi")
        assert client.recv() == "ann: hi"
    with HandlerClient(service, query_string="token=guess") as client:
        assert client.refused and client.wait_closed() == (4001, "Unknown token")
    with HandlerClient(service) as client:
        assert client.refused


def check_router(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    from werkzeug.test import Client

    from sockjs_gevent import Router

    ns = run_block(block, monkeypatch)
    (app,) = ns["_served"]
    assert isinstance(app, Router)
    assert Client(app).get("/about").get_data() == b"the rest of the site\n"
    assert Client(app).get("/echo/info").status_code == 200
    with HandlerClient(app.service_for("/shout")) as client:
        client.send("hi")
        assert client.recv() == "HI"


def check_channels(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    from sockjs_gevent import SockJS

    ns = run_block(block, monkeypatch)
    service = SockJS(ns["chat"], "/docs-chat")
    with HandlerClient(service) as a:
        with HandlerClient(service) as b:
            assert a.recv().endswith("joined (2 here)")  # b's arrival; b does not hear itself
            b.send("hi all")
            assert a.recv() == b.recv() == "hi all"
            ns["whisper"](a.session.connection.id, "psst")
            assert a.recv() == "psst"


def check_channels_presence(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    from sockjs_gevent import SockJS

    ns = run_block(block, monkeypatch)
    service = SockJS(ns["chat"], "/docs-presence")
    with HandlerClient(service) as ann, HandlerClient(service) as bob:
        ann.send("ann")
        assert ann.recv() == "here: ann"
        bob.send("bob")
        assert bob.recv() == "here: ann, bob"
        bob.send("hi")
        assert ann.recv() == "bob: hi"


def check_channels_outside(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    import gevent

    from sockjs_gevent import channels

    ns = run_block(block, monkeypatch)
    app, sockjs = ns["app"], ns["sockjs"]
    with sockjs.test_client(app, "/chat") as member:
        assert member.session.connection in channels.channel("lobby", scope="/chat")
        assert app.test_client().post("/announce", data={"text": "doors close at 10"}).status_code == 204
        assert member.recv() == "doors close at 10"
        job = gevent.spawn(ns["clock"])
        try:
            assert member.recv() == "tick"
        finally:
            job.kill()


def check_multiplex(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    from sockjs_gevent.channels import default_hub
    from sockjs_gevent.multiplex import Multiplexer
    from sockjs_gevent.multiplex.testing import MultiplexClient

    ns = run_block(block, monkeypatch)
    (app,) = ns["_served"]
    assert app.prefix == "/mux" and isinstance(app.handler, Multiplexer)
    assert app.handler.names == ["chat", "ticker"]
    with MultiplexClient(app) as a, MultiplexClient(app) as b:
        assert len(a.subscribe("ticker").recv()) == len("12:34:56")
        a_chat, b_chat = a.subscribe("chat"), b.subscribe("chat")
        assert len(default_hub().channel("lobby", scope="/mux")) == 2  # subscribe() returned once both joined
        a_chat.send("hi b")
        assert b_chat.recv() == "hi b"
        # the publish reached every member at once: nothing of it for its sender
        assert not [m for m in a.client.session.take_messages() if m.startswith("msg,chat,")]


def check_multiplex_flask(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run_block(block, monkeypatch)
    ns["test_chat"]()
    with ns["sockjs"].test_client(ns["app"], "/mux") as client:
        assert client.refused  # before_open applies to the whole connection


def check_client(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_testserver()
    try:
        code = block.code.replace("http://127.0.0.1:8080", server.base_url)
        printed: list[str] = []
        run_block(block, monkeypatch, {"__name__": "docs", "print": printed.append}, code=code)
        assert printed == ["hello"]
    finally:
        server.stop()


def check_metrics(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client.parser import text_string_to_metric_families
    from werkzeug.test import Client

    ns = run_block(block, monkeypatch)
    (app,) = ns["_served"]
    with HandlerClient(ns["service"]) as conn:
        conn.send("hi")
        assert conn.recv() == "hi"
        response = Client(app).get("/metrics")
        assert response.status_code == 200
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for s in family.samples
        }
    assert samples["sockjs_sessions_open", (("service", "/echo"), ("transport", "websocket"))] == 1
    assert samples["sockjs_messages_received_total", (("service", "/echo"),)] == 1
    assert "process_start_time_seconds" in {name for name, _ in samples}
    assert Client(app).get("/other").status_code == 404


def check_stats(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    """The block serves /stats; its answer has the shape of the page's JSON sample, and the same counts."""
    from werkzeug.test import Client

    (sample,) = re.findall(r"```json\n(.*?)```", read(block.page), re.S)
    sample = json.loads(sample)
    ns = run_block(block, monkeypatch)
    (app,) = ns["_served"]
    with HandlerClient(ns["service"]) as conn:
        conn.send("hi")
        assert conn.recv() == "hi"
        response = Client(app).get("/stats", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 200
    answer = response.get_json()
    assert set(answer) == set(sample)
    assert answer["/echo"] == sample["/echo"]  # one websocket client that echoed one message, as the page says
    assert set(answer["budget"]) == set(sample["budget"])
    assert Client(app).get("/stats", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404


def check_compression(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    from sockjs_gevent.client import connect
    from sockjs_gevent.http import HttpServer

    ns = run_block(block, monkeypatch)
    (app,) = ns["_served"]
    server = HttpServer(("127.0.0.1", 0), app)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with connect(base + "/chat", transport="websocket", compression=True) as chat:
            chat.send("hi")
            assert chat.recv(timeout=5) == "hi" and chat.transport.compressed
        with connect(base + "/feed", transport="raw-websocket", compression=True) as feed:
            feed.send("hi")
            assert feed.recv(timeout=5) == "hi"
            (agreed,) = feed.transport._engine.extensions
            assert agreed.remote_no_context_takeover and agreed.local_no_context_takeover
    finally:
        server.stop(timeout=1)


CHECKS: dict[str, Callable[[Block, pytest.MonkeyPatch], None]] = {
    "before-open": check_before_open,
    "channels": check_channels,
    "channels-outside": check_channels_outside,
    "channels-presence": check_channels_presence,
    "client": check_client,
    "compression": check_compression,
    "echo": check_echo,
    "flask": check_flask,
    "flask-tests": check_flask,  # the tests block runs against the app block of its page
    "metrics": check_metrics,
    "multiplex": check_multiplex,
    "multiplex-flask": check_multiplex_flask,
    "router": check_router,
    "stats": check_stats,
    "tests": check_tests,
}


# -- the marker discipline ------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_every_python_block_has_a_marker(page: str) -> None:
    for block in page_blocks(page):
        assert block.marker is not None, (
            f"the ```python block at {block} has no <!-- docs-test: NAME --> marker on the line before it: "
            f"every Python block of README.md and docs/ is run by a check (tests/test_docs.py)"
        )
        assert block.kind == "file" or block.kind in CHECKS, (
            f"{block}: unknown docs-test {block.marker!r}; known: file PATH, {', '.join(sorted(CHECKS))}"
        )


def test_every_check_is_used() -> None:
    used = {block.kind for block in all_blocks()}
    assert set(CHECKS) <= used, f"checks no block uses: {sorted(set(CHECKS) - used)}"


def test_the_harness_finds_every_kind_of_python_fence() -> None:
    """```py, ```python3 and an indented fence (in a list item) are Python blocks too."""
    text = "<!-- docs-test: tests -->\n```py\na\n```\n\n- item\n\n  ```python3\n  b\n  ```\n\n```sh\nc\n```\n"
    matches = FENCE.findall(text)
    assert [code for _, code in matches] == ["a\n", "  b\n"]


@pytest.mark.parametrize("block", all_blocks(), ids=lambda b: f"{b}:{b.marker}")
def test_block(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.kind == "file":
        with open(os.path.join(ROOT, block.argument), encoding="utf-8") as f:
            assert block.code == f.read(), f"{block} shows {block.argument} as it no longer is"
        compile(block.code, block.argument, "exec")
        return
    if block.kind not in CHECKS:
        pytest.fail(f"{block} has no known docs-test marker (see test_every_python_block_has_a_marker)")
    CHECKS[block.kind](block, monkeypatch)


def test_examples_that_serve_patch_first() -> None:
    """The docs say a program that serves SockJS starts with the monkey-patch line, and serve() warns
    without it: every example that serves (serve(...), sockjs.run(...)) starts with it, so it can be
    run as written."""
    serving = [block for block in all_blocks() if re.search(r"\bserve\(|\.run\(", block.code)]
    assert {"echo", "compression", "flask", "multiplex", "metrics", "stats", "router"} <= {b.kind for b in serving}
    for block in serving:
        code = [line.split("#")[0].strip() for line in block.code.splitlines()]
        statements = [part.strip() for line in code if line for part in line.split(";")][:2]
        # One line in the docs' own blocks; two (as ruff formats it) in the repository's files.
        assert statements == PATCH_LINE.split("; "), f"{block} ({block.marker}) starts with {statements!r}"


# -- links ----------------------------------------------------------------------

LINK = re.compile(r"\]\((?!https?://|mailto:)([^)\s]*)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.M)


def slug(heading: str) -> str:
    """The anchor of a heading, as GitHub and the site's toc (pymdownx.slugs, lower case) make it."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"<[^>]+>", "", text.replace("`", "")).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: str) -> set[str]:
    text = re.sub(r"^```.*?^```", "", read(page), flags=re.S | re.M)  # no headings inside code blocks
    return {slug(h) for h in HEADING.findall(text)} | set(re.findall(r"\{#([\w-]+)\}", text))


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_resolve(page: str) -> None:
    text = re.sub(r"^```.*?^```", "", read(page), flags=re.S | re.M)
    for link in LINK.findall(text):
        path, _, anchor = link.partition("#")
        target = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        assert os.path.exists(os.path.join(ROOT, target)), f"{page} links to {link}: no {target}"
        if anchor and target.endswith(".md"):
            assert anchor in anchors(target), f"{page} links to {link}: {target} has no heading #{anchor}"


# -- what the pages promise about the code ---------------------------------------------


def test_readme_is_short() -> None:
    """A newcomer reads the README in five minutes; the rest is in docs/."""
    lines = read("README.md").count("\n")
    assert lines <= 300, f"README.md has {lines} lines: move detail into a page of docs/"


def test_readme_two_commands_exist() -> None:
    """The README's two commands, run from a fresh clone as written."""
    text = read("README.md")
    section = text[text.index("## The two commands") :]
    (commands,) = re.findall(r"```sh\n(.*?)```", section[: section.index("\n## ", 1)], re.S)
    scripts = [line.split()[0] for line in commands.splitlines()]
    assert scripts == ["scripts/demo.sh", "scripts/test.sh"]
    for script in scripts:
        assert os.access(os.path.join(ROOT, script), os.X_OK), f"{script} is not executable"


def test_readme_lists_every_extra() -> None:
    """The README's installation table names every extra of setup.py a user installs (all but "test")."""
    import ast

    setup_call = next(
        node
        for node in ast.walk(ast.parse(read("setup.py")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setup"
    )
    (extras,) = [kw.value for kw in setup_call.keywords if kw.arg == "extras_require"]
    declared = {ast.literal_eval(key) for key in extras.keys} - {"test"}
    text = read("README.md")
    section = text[text.index("## Installation") : text.index("\n## ", text.index("## Installation") + 1)]
    assert set(re.findall(r"^\| `([\w-]+)` \|", section, re.M)) == declared


def test_connection_table_lists_environ() -> None:
    """conn.environ is the only way to read the query string (a token in the URL): the handlers page shows it."""
    text = read("docs/handlers.md")
    start = text.index("A handler gets a `Connection`:")
    table = text[start : text.index("\n\n", text.index("| call |", start))]
    (row,) = [line for line in table.splitlines() if line.startswith("| `conn.environ`")]
    assert "QUERY_STRING" in row and "before_open" in row


def test_options_table_lists_every_option() -> None:
    from dataclasses import fields

    from sockjs_gevent.options import Options

    rows = re.findall(r"^\| `(\w+)` \|", read("docs/options.md"), re.M)
    assert sorted(rows) == sorted(f.name for f in fields(Options)), "docs/options.md's table and Options differ"


def test_internals_tree_lists_every_module() -> None:
    """docs/internals.md's source tree names every module and package of sockjs_gevent."""
    text = read("docs/internals.md")
    tree = text[text.index("sockjs_gevent/\n") :]
    tree = tree[: tree.index("```")]
    listed = set(re.findall(r"^  (\S+)", tree, re.M))
    package = os.path.join(ROOT, "sockjs_gevent")
    present = {
        name
        for name in os.listdir(package)
        if (name.endswith(".py") and name != "__init__.py")
        or os.path.isfile(os.path.join(package, name, "__init__.py"))
    }
    present = {name if name.endswith(".py") else name + "/" for name in present}
    assert present <= listed, f"not in docs/internals.md's source tree: {sorted(present - listed)}"
