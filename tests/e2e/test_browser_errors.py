"""Error answers are readable by a page on another origin (docs/protocol.md section 8).

Without CORS headers on a 404, a cross-origin page sees an opaque network
error and the console shows a CORS failure that hides the real mistake (a
wrong URL). With them, ``fetch`` reads the status, with or without
credentials, as sockjs-client's XHRs (``withCredentials``) do.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.e2e_support import CROSS_ORIGIN

pytestmark = pytest.mark.browser

FETCH_STATUS = """async ({url, method, body, credentials}) => {
    try {
        const r = await fetch(url, {method, body, credentials});
        return {status: r.status, text: await r.text()};
    } catch (e) {
        return {error: String(e)};
    }
}"""


@pytest.mark.parametrize("credentials", ["include", "omit"])
@pytest.mark.parametrize(
    "method,path,body,status,text",
    [
        ("GET", "/echo/no/such/path/here", None, 404, "Not found."),
        ("POST", "/echo/000/SID/xhr_send", '["x"]', 404, "no such session"),
        ("POST", "/echo/000/SID/xhr", "", 200, "o"),  # control: a normal answer
        ("GET", "/echo/000/s/jsonp", None, 500, '"callback" parameter required'),
    ],
    ids=["wrong-path", "unknown-session", "control", "missing-callback"],
)
def test_cross_origin_page_reads_error_status(
    origin_page: Any, credentials: str, method: str, path: str, body: Any, status: int, text: str
) -> None:
    page = origin_page(CROSS_ORIGIN)
    url = page.origin.sockjs_base + path.replace("SID", uuid.uuid4().hex)
    assert not url.startswith(page.origin.page_url.split("/e2e")[0])  # really another origin
    result = page.run(FETCH_STATUS, {"url": url, "method": method, "body": body, "credentials": credentials})
    assert result.get("status") == status, result
    assert text in result["text"], result
