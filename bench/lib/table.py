"""The results table: absolute figures per server, each with its ratio to sockjs-node.

Every throughput figure comes with the server's CPU per operation and the
generator's CPU share of its core; a figure whose generator passed
GENERATOR_BOUND of its core is starred: it measured the generator, so it
is not claimed (nor is a ratio to a starred reference). Notes below the
table list figures near that limit (the generator's CPU per operation
over 80% of the server's), failures, errors, lost or expired sessions
and machine noise.
"""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.lib.lineup import REFERENCE

GENERATOR_BOUND = 0.8  # of the generator's core
STAR = "*"
WIDTH = 19
TITLE_WIDTH = 46


def header(title: str = "SockJS servers side by side", generator: str = "") -> str:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (
        f"{title}, {now}; nproc {os.cpu_count()}; Python {platform.python_version()}; "
        f"each server alone on core 0, the load generator ({generator or 'this process'}) on core 1; "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )


def other_load(r: dict) -> float | None:
    """CPU cores busy with processes other than server and generator (noise)."""
    cpu = r.get("cpu_cores", {})
    if "machine" not in cpu:
        return None
    return max(0.0, cpu["machine"] - cpu.get("server", 0.0) - cpu.get("client", 0.0))


def generator_share(r: dict) -> float | None:
    return r.get("cpu_cores", {}).get("client")


def generator_bound(r: dict) -> bool:
    share = generator_share(r)
    return share is not None and share > GENERATOR_BOUND


@dataclass
class Row:
    title: str
    key: str
    value: Callable[[dict], float | None]
    spec: str = ",.0f"
    show: Callable[[dict], str | None] = field(default=lambda r: None)  # replaces the number's text
    ratio: bool = True
    starred: bool = False  # the row's figure is the throughput claim: star it when generator-bound


def _get(name: str) -> Callable[[dict], float | None]:
    return lambda r: r.get(name)


def _percent(r: dict) -> float | None:
    share = generator_share(r)
    return None if share is None else 100 * share


def throughput(title: str, key: str, per: str, p99: str | None = None, p99_spec: str = ".1f") -> list[Row]:
    """A throughput figure's rows: the rate, its p99 if any, server CPU per operation, generator share."""
    rows = [Row(title, key, _get("rate"), starred=True)]
    if p99:
        rows.append(Row(f"    {p99}, ms", key, _get("p99_ms"), p99_spec))
    rows.append(Row(f"    server CPU us per {per}", key, _get("server_us_per_op"), ".1f"))
    rows.append(Row("      of it in the kernel (system time)", key, _get("server_system_us_per_op"), ".1f"))
    rows.append(Row("    generator CPU, % of its core", key, _percent, ".0f", ratio=False))
    return rows


ROWS = [
    *throughput("(a) ws echo, 100 x 64 B: round trips/s", "ws_echo", "round trip", "p99 round trip", ".2f"),
    *throughput("(b) broadcast 1 -> 1,000 ws: deliveries/s", "broadcast", "delivery", "p99 delivery latency"),
    *throughput("(c) ws sessions opened/s (50 at a time)", "ws_opens", "session"),
    *throughput("    xhr-streaming sessions opened/s", "xhr_streaming_opens", "session"),
    *throughput("(d) xhr-polling echo, 50: round trips/s", "xhr_polling_echo", "round trip", "p99 round trip"),
    *throughput("    xhr-streaming echo, 50: round trips/s", "xhr_streaming_echo", "round trip", "p99 round trip"),
    Row("(e) RSS KiB per idle ws session (5,000)", "idle_ws", _get("kb_per_session"), ".1f"),
    Row("    RSS KiB per idle xhr-streaming (2,000)", "idle_xhr", _get("kb_per_session"), ".1f"),
    Row(
        "(f) 10,000 idle ws: still echoing at end",
        "hold",
        _get("alive"),
        ",.0f",
        show=lambda r: f"{r['alive']:,}/{r['sessions']:,}",
    ),
    Row("    sessions that saw a heartbeat (h or ping)", "hold", _get("with_heartbeat"), ",.0f", ratio=False),
    Row(
        "    server RSS while held, MiB",
        "hold",
        lambda r: r["rss_held_kb"] / 1024 if "rss_held_kb" in r else None,
        ",.0f",
    ),
    Row("    RSS KiB per held session", "hold", _get("kb_per_session"), ".1f"),
    *throughput("(g) plain HTTP, 2 B, 50 conns: requests/s", "http_hello", "request", "p99 latency", ".2f"),
]


def cell(row: Row, r: dict | None, ref_value: float | None, is_reference: bool) -> str:
    if r is None:
        return "-"
    if "failed" in r:
        return "FAILED"
    value = row.value(r)
    if value is None or value != value:
        return "-"
    text = row.show(r) or format(value, row.spec)
    if row.ratio and not is_reference and ref_value and row.show(r) is None:
        text += f" ({value / ref_value:.2f})"
    if row.starred and generator_bound(r):
        text += STAR
    return text


def table(
    results: dict, servers: list[str], duration: float, hold: float, generator: str = "", warmup: float = 1.0
) -> str:
    lines = [
        header(generator=generator),
        f"(a)-(d), (g): {duration:g} s measured after {warmup:g} s warm-up; (f) held {hold:g} s. "
        f"(x.xx) = ratio to {REFERENCE} (for ms, us and KiB, lower is better); its (g) is Node's http.createServer. "
        "'-' = not run.",
        "",
        f"{'':{TITLE_WIDTH}}" + "".join(f" {name:>{WIDTH}}" for name in servers),
    ]
    for row in ROWS:
        ref = results.get(REFERENCE, {}).get(row.key)
        ref_value = row.value(ref) if ref and "failed" not in ref else None
        if ref and row.starred and generator_bound(ref):
            ref_value = None  # a starred reference is no yardstick
        cells = [cell(row, results.get(name, {}).get(row.key), ref_value, name == REFERENCE) for name in servers]
        if any(c != "-" for c in cells):
            lines.append(f"{row.title:{TITLE_WIDTH}}" + "".join(f" {c:>{WIDTH}}" for c in cells))
    lines += notes(results, servers)
    return "\n".join(lines)


def notes(results: dict, servers: list[str]) -> list[str]:
    out = [""]
    starred = [
        f"{name} {key} ({generator_share(r):.2f})"
        for name in servers
        for key, r in results.get(name, {}).items()
        if isinstance(r, dict) and generator_bound(r)
    ]
    out.append(
        f"{STAR} generator-bound, not claimed: the load generator used over {GENERATOR_BOUND:.0%} of its core, "
        "so the figure is (or may be) its limit, not the server's; ratios to a starred "
        f"{REFERENCE} figure are left out. " + ("Here: " + ", ".join(starred) + "." if starred else "None here.")
    )
    close = [
        f"{name} {key} ({r['client_us_per_op'] / r['server_us_per_op']:.2f})"
        for name in servers
        for key, r in results.get(name, {}).items()
        if isinstance(r, dict)
        and not generator_bound(r)
        and r.get("client_us_per_op")
        and r.get("server_us_per_op")
        and r["client_us_per_op"] > GENERATOR_BOUND * r["server_us_per_op"]
    ]
    if close:
        out.append(
            "Near the generator's limit (its CPU per operation over 80% of the server's, so with both cores to"
            " themselves it would saturate about when the server does): " + ", ".join(close) + "."
        )
    raw = results.get("raw", {}).get("ws_echo", {})
    if raw.get("rate"):
        best = max(
            ((results.get(n, {}).get("ws_echo", {}).get("rate") or 0, n) for n in servers if n != "raw"),
            default=(0, ""),
        )
        line = (
            f"Without SockJS (raw gevent websocket echo) the same generator did {raw['rate']:,.0f} round trips/s"
            f" at {100 * (generator_share(raw) or 0):.0f}% of its core"
        )
        if best[0]:
            line += f"; the fastest SockJS server in (a), {best[1]}, reached {100 * best[0] / raw['rate']:.0f}% of that"
        out.append(line + ".")
    noisy = [
        o
        for name in servers
        for r in results.get(name, {}).values()
        if isinstance(r, dict)
        for o in [other_load(r)]
        if o is not None and o > 0.3
    ]
    if noisy:
        out.append(
            f"WARNING: other processes kept up to {max(noisy):.1f} cores busy during some runs; rates and latencies"
            " suffer, CPU us per operation holds better."
        )
    for name in servers:
        for key, r in results.get(name, {}).items():
            said = problems(r) if isinstance(r, dict) else []
            if said:
                out.append(f"{name} {key}: " + "; ".join(said))
    return out


def problems(r: dict) -> list[str]:
    """What went wrong in one result, in words."""
    said = []
    if "failed" in r:
        said.append(r["failed"])
    if r.get("error_count"):
        errs = r["errors"]
        said.append(
            f"{r['error_count']} errors: "
            + ("; ".join(f"{n}x {e}" for e, n in list(errs.items())[:3]) if isinstance(errs, dict) else errs[0])
        )
    counts = r.get("counts", {})
    if counts.get("expired"):
        stall = r.get("generator_max_stall_s", 0.0)
        said.append(
            f"{counts['expired']} sessions were forgotten by the server mid-run and re-opened; the generator's"
            f" event loop froze up to {stall:.2f} s ("
            + (
                "over the 5 s disconnect_delay: polls were not re-issued in time, a generator artifact)"
                if stall >= 4.5
                else "far below the 5 s disconnect_delay: the server expired live sessions)"
            )
        )
    for what in ("lost", "stale (after its timeout)", "out of order"):
        if counts.get(what):
            said.append(f"{counts[what]} deliveries {what}")
    if r.get("reopens"):
        said.append(f"stream re-opened {r['reopens']}x (response_limit)")
    if "alive" in r and "sessions" in r and r["alive"] < r["sessions"]:
        said.append(f"only {r['alive']}/{r['sessions']} sessions still echoed")
    return said
