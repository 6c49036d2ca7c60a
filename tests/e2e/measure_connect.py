"""Connection time per transport, measured in real Chromium.

    .venv/bin/python -m tests.e2e.measure_connect [--runs 20] [--service /echo]

For every transport and both origin modes, the time from ``new SockJS()`` to
``onopen`` (so the /info round trip included), measured in the page with
``performance.now()``: one warm-up connection, then RUNS measured ones, each
on a freshly loaded page. Prints a markdown table of medians (and the range).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from tests.e2e.e2e_support import (
    CROSS_ORIGIN,
    CROSS_ORIGIN_UNSUPPORTED,
    MODES,
    SOCKJS_CLIENT,
    TRANSPORTS,
    PageHandle,
    Servers,
    launch_browser,
)

ONE_OPEN = """async ({url, options}) => {
  const c = E2E.connect(url, options);
  await c.opens({timeoutMs: 15000});
  const ms = c.openMs, transport = c.transport;
  c.close();
  await c.closes({timeoutMs: 5000});
  return {ms, transport};
}"""


def measure(handle: PageHandle, url: str, transport: str | None, runs: int) -> tuple[list[float], str]:
    options: dict[str, Any] = {"timeout": 10_000}
    if transport is not None:
        options["transports"] = [transport]
    times: list[float] = []
    used = ""
    for i in range(runs + 1):
        handle.load()  # a fresh document: no pending requests from the last run
        result = handle.run(ONE_OPEN, {"url": url, "options": options})
        used = result["transport"]
        if i > 0:
            times.append(result["ms"])
    return times, used


def cell(times: list[float] | None) -> str:
    if not times:
        return "n/a"
    return f"{statistics.median(times):.1f} ({min(times):.1f}-{max(times):.1f})"


def sockjs_client_version() -> str:
    with open(SOCKJS_CLIENT, encoding="utf-8") as f:
        head = f.read(200)
    words = head.split()
    return "sockjs-client " + next((w for w in words if w.startswith("v1.")), "?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--service", default="/echo")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    servers = Servers()
    started = time.monotonic()
    rows: dict[str, dict[str, Any]] = {}
    try:
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            version = browser.version
            for mode in MODES:
                handle = PageHandle(browser, servers.origin(mode))
                url = handle.origin.service(args.service)
                for transport in [*TRANSPORTS, None]:
                    name = transport or "auto (no transports option)"
                    row = rows.setdefault(name, {})
                    if transport is not None and mode == CROSS_ORIGIN and transport in CROSS_ORIGIN_UNSUPPORTED:
                        row[mode] = None
                        continue
                    times, used = measure(handle, url, transport, args.runs)
                    row[mode] = times
                    if transport is None:
                        row.setdefault("picked", {})[mode] = used
                handle.close()
            browser.close()
    finally:
        servers.stop()

    print(
        f"Time from `new SockJS()` to `onopen`, ms: median (min-max) of {args.runs} runs, "
        f"service {args.service}, Chromium {version}, {sockjs_client_version()}, loopback, "
        f"{os.cpu_count()} CPUs.\n"
    )
    print("| transport | same-origin | cross-origin |")
    print("|---|---|---|")
    for name, row in rows.items():
        label = name
        if "picked" in row:
            picked = sorted(set(row["picked"].values()))
            label = f"auto (no transports option; picked {' / '.join(picked)})"
        print(f"| {label} | {cell(row.get(MODES[0]))} | {cell(row.get(MODES[1]))} |")
    unsupported = ", ".join(sorted(CROSS_ORIGIN_UNSUPPORTED))
    print(f"\nn/a: {unsupported} is same-origin only in sockjs-client. Measured in {time.monotonic() - started:.0f} s.")


if __name__ == "__main__":
    main()
