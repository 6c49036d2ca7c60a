"""The counters of ``service.stats`` for Prometheus, in its text format.

    from sockjs_gevent.metrics import metrics_app
    metrics = metrics_app(echo, chat)   # a WSGI app: mount it where only operators (and Prometheus) reach it

Needs ``prometheus_client`` (``pip install 'sockjs-gevent[prometheus]'``);
it is imported when ``metrics_app`` or ``SockJSCollector`` is first used, not
by ``import sockjs_gevent``.

Nothing is counted twice: a custom collector reads each service's
`Stats` (sockjs_gevent.stats) and its open sessions when Prometheus
scrapes, so serving a message costs nothing more than it did. The metrics,
each labelled with ``service`` (the prefix, ``/`` for none):

====================================  =======  ==========  =================================
name                                  type     labels      what
====================================  =======  ==========  =================================
sockjs_sessions_open                  gauge    transport   sessions open now
sockjs_sessions_registered            gauge                sessions held by session id now
sockjs_sessions_opened_total          counter  transport   sessions opened (refused ones too)
sockjs_sessions_closed_total          counter  code        sessions closed, by close code (grouped)
sockjs_messages_received_total        counter              messages from clients to handlers
sockjs_messages_sent_total            counter              messages from handlers to clients
sockjs_problems_total                 counter  kind        problems, by kind (see Stats.problems)
sockjs_buffered_bytes                 gauge                client data held in every inbox and outbox of the process
sockjs_buffered_bytes_limit           gauge                max_buffered_bytes (sockjs_gevent.budget)
sockjs_handoffs_total                 counter  result      connections passed between workers (--workers, gunicorn -w)
====================================  =======  ==========  =================================

Every transport and every known problem kind has a series from the start
(at 0), so ``rate()`` and alerts see it before the first event. The ``code``
label is bounded: a standard close code is itself (``1000``, ``1011``...),
other application codes are ``3xxx`` or ``4xxx``, anything else ``other``
(``sockjs_gevent.stats.close_code_label``), so clients closing with codes
of their choice add no series. The values belong to this process: with
several workers, Prometheus scrapes each one (docs/monitoring.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .budget import BUDGET
from .handoff import HandOff
from .transports import NAMES as TRANSPORTS

if TYPE_CHECKING:  # pragma: no cover
    from .stats import Counted

#: The problem kinds Stats counts today; a kind not listed here is still
#: exported once it happens, only not at 0 before.
#: The counters of ``handoff.HandOffStats``, as label values.
HANDOFF_RESULTS = ("sent", "received", "unreachable", "too_large", "dropped")

PROBLEM_KINDS = (
    "handler",
    "slow_consumer",
    "busy",
    "refused",
    "origin",
    "payload",
    "callback",
    "handshake",
    "aborted",
    "inbox_full",
    "inbox_dropped",
    "handler_killed",
    "over_budget",
)

EXTRA = "prometheus"
_MISSING = f"sockjs_gevent.metrics needs the prometheus_client package: pip install 'sockjs-gevent[{EXTRA}]'"
#: metrics_app(registry=...) default: prometheus_client's global registry.
DEFAULT_REGISTRY: Any = object()


def _prometheus() -> Any:
    """The prometheus_client module, or an ImportError that says how to get it."""
    try:
        import prometheus_client
        import prometheus_client.core  # noqa: F401 (the metric families)
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    return prometheus_client


def service_label(service: Counted) -> str:
    """The ``service`` label of a service: its prefix, ``/`` for none (as in the JSON stats)."""
    return service.prefix or "/"


class SockJSCollector:
    """A prometheus_client collector of the sockjs_* metrics of ``services``.

    ``metrics_app`` uses one; to add them to a registry of your own instead::

        prometheus_client.REGISTRY.register(SockJSCollector(echo, chat))
    """

    def __init__(self, *services: Counted) -> None:
        self._core = _prometheus().core
        labels = [service_label(s) for s in services]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"two services have the prefix {twice[0]!r}: their metrics would be one series")
        self.services = services

    def collect(self) -> Iterator[Any]:
        core = self._core
        open_now = core.GaugeMetricFamily(
            "sockjs_sessions_open", "SockJS sessions open now.", labels=["service", "transport"]
        )
        registered = core.GaugeMetricFamily(
            "sockjs_sessions_registered",
            "SockJS sessions findable by session id now (HTTP transports; kept until they expire).",
            labels=["service"],
        )
        opened = core.CounterMetricFamily(
            "sockjs_sessions_opened", "SockJS sessions opened, refused ones included.", labels=["service", "transport"]
        )
        closed = core.CounterMetricFamily(
            "sockjs_sessions_closed",
            "SockJS sessions closed, by close code (standard codes as themselves; "
            "other application codes as 3xxx, 4xxx; anything else as other).",
            labels=["service", "code"],
        )
        received = core.CounterMetricFamily(
            "sockjs_messages_received", "Messages received from clients.", labels=["service"]
        )
        sent = core.CounterMetricFamily("sockjs_messages_sent", "Messages sent to clients.", labels=["service"])
        problems = core.CounterMetricFamily(
            "sockjs_problems",
            "Problems by kind (handler, slow_consumer, busy, refused, origin, ...).",
            labels=["service", "kind"],
        )
        for service in self.services:
            name = service_label(service)
            stats = service.stats
            by_transport = dict.fromkeys(TRANSPORTS, 0)
            for session in list(service.live):
                transport = session.info.transport
                by_transport[transport] = by_transport.get(transport, 0) + 1
            for transport, n in by_transport.items():
                open_now.add_metric([name, transport], n)
            registered.add_metric([name], len(service.sessions))
            for transport, n in {**dict.fromkeys(TRANSPORTS, 0), **stats.sessions_opened}.items():
                opened.add_metric([name, transport], n)
            for label, n in sorted(stats.sessions_closed.items(), key=lambda item: str(item[0])):
                closed.add_metric([name, str(label)], n)  # labels of stats.close_code_label: bounded
            received.add_metric([name], stats.messages_in)
            sent.add_metric([name], stats.messages_out)
            for kind, n in {**dict.fromkeys(PROBLEM_KINDS, 0), **stats.problems}.items():
                problems.add_metric([name, kind], n)
        yield from (open_now, registered, opened, closed, received, sent, problems)
        buffered = core.GaugeMetricFamily(
            "sockjs_buffered_bytes", "Client data this process holds in every inbox and outbox (sockjs_gevent.budget)."
        )
        buffered.add_metric([], BUDGET.held)
        limit = core.GaugeMetricFamily("sockjs_buffered_bytes_limit", "max_buffered_bytes of this process.")
        limit.add_metric([], BUDGET.limit)
        yield from (buffered, limit)
        handoff = HandOff.active
        if handoff is not None:  # several workers on one port: this worker's hand-offs
            handoffs = core.CounterMetricFamily(
                "sockjs_handoffs",
                "Client connections passed between workers on one port, by result "
                "(sent, received, unreachable, too_large, dropped).",
                labels=["result"],
            )
            counts = handoff.stats
            for result in HANDOFF_RESULTS:
                handoffs.add_metric([result], getattr(counts, result))
            yield handoffs


class _Everything:
    """Collects all that another registry holds, without registering anything in it."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        return self.registry.collect()


def metrics_app(*services: Counted, registry: Any = DEFAULT_REGISTRY) -> Any:
    """A WSGI app answering GET with the services' metrics in the Prometheus text format.

    ``registry``: also expose what this prometheus_client registry holds. By
    default the global ``prometheus_client.REGISTRY``: the process_* and
    python_* metrics (CPU, memory, open files, start time: a restarted
    worker shows) and any metrics of your own registered there. ``None``
    for the sockjs_* metrics alone.

    Raises ImportError naming the ``prometheus`` extra when
    prometheus_client is not installed.
    """
    prometheus = _prometheus()
    if registry is DEFAULT_REGISTRY:
        registry = prometheus.REGISTRY
    # auto_describe: the registry learns the names each collector yields,
    # so ?name[]=... picks metrics and a clash is an error here.
    combined = prometheus.CollectorRegistry(auto_describe=True)
    combined.register(SockJSCollector(*services))
    if registry is not None:
        combined.register(_Everything(registry))
    return prometheus.make_wsgi_app(combined)
