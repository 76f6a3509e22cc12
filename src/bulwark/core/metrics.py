"""Prometheus metrics at `/metrics` (prometheus_client).

Two kinds of figures:
- counted in the process that does the work (request latency in the web processes, log
  lines matched in the monitoring workers). With several gunicorn workers set
  `PROMETHEUS_MULTIPROC_DIR` (an empty directory, the same for every process on the
  host, emptied at start): prometheus_client then writes each process's values to files
  there and a scrape adds them up.
- read from the database at scrape time (`DatabaseCollector`): the task queue, the report
  exchange, monitoring alerts, overdue statutory clocks. Every web process answers the
  same, whatever process did the work, and nothing is lost when a process restarts.
NATS consumer pending is asked of JetStream at scrape time when `NATS_URL` is set,
bounded by a timeout; a failure is counted, never raised.

Who may read: a platform admin's API token (`Authorization: Bearer ...`), or a client
whose address is in `BULWARK_METRICS_ALLOW` (CIDRs). Everyone else gets 403.
"""

import asyncio
import ipaddress
import logging
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bulwark.core.middleware import client_ip
from bulwark.core.registry import DATABASE_METRICS, METRICS_TOKEN_REFUSAL

log = logging.getLogger(__name__)

_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if _MULTIPROC_DIR and not os.path.isdir(_MULTIPROC_DIR):
    # prometheus_client would fail later with a bare FileNotFoundError on a .db file.
    raise ImproperlyConfigured(
        f"PROMETHEUS_MULTIPROC_DIR={_MULTIPROC_DIR} is not a directory: create it (empty, "
        "shared by the processes of this host) before starting, or unset it"
    )

REQUEST_LATENCY = Histogram(
    "bulwark_http_request_duration_seconds",
    "Time to answer a request, by view name and status class (2xx, 4xx, 5xx...).",
    ["view", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
MONITOR_LINES = Counter(
    "bulwark_monitoring_lines", "Log lines matched by the monitoring workers."
)  # fmt: skip
MONITOR_HITS = Counter("bulwark_monitoring_hits", "Indicator hits found in matched log lines.")
MONITOR_BATCHES = Counter(
    "bulwark_monitoring_batches",
    "Log batches handled by the monitoring workers, by outcome (stored, duplicate, refused).",
    ["outcome"],
)
MONITOR_ERRORS = Counter(
    "bulwark_monitoring_errors", "Monitoring worker failures, by stage.", ["stage"]
)  # fmt: skip
NATS_SCRAPE_ERRORS = Counter(
    "bulwark_metrics_nats_errors", "Scrapes that could not read the NATS consumer state."
)  # fmt: skip

NATS_TIMEOUT_SECONDS = 2.0


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def observe_request(view: str, status: int, seconds: float) -> None:
    """Never fails the request it measures (a missing PROMETHEUS_MULTIPROC_DIR, a full
    disk): the failure is logged instead."""
    try:
        REQUEST_LATENCY.labels(view=view, status=status_class(status)).observe(seconds)
    except Exception:
        log.exception("metrics: could not record a request")


def count_batches(outcomes: list[str], lines: int, hits: int) -> None:
    """Called by the monitoring workers for each group of batches they handled."""
    MONITOR_LINES.inc(lines)
    MONITOR_HITS.inc(hits)
    for outcome in outcomes:
        MONITOR_BATCHES.labels(outcome=outcome.split(":", 1)[0] or "unknown").inc()


# --- Figures read from the database at scrape time ---------------------------------------


def age(now: Any, then: Any) -> float:
    """Seconds from `then` to `now`, 0 when there is no `then` (or it is in the future)."""
    return max(0.0, (now - then).total_seconds()) if then else 0.0


class DatabaseCollector(Collector):
    """Gauges and totals counted in the database when /metrics is read. Each query is
    answered from an index or a small table (tasks, reports, open alerts, incidents)."""

    def collect(self) -> Iterator[Any]:
        now = timezone.now()
        yield from self._tasks(now)
        for figures in DATABASE_METRICS:  # each app's (core/registry.py)
            yield from figures(now)

    def _tasks(self, now: Any) -> Iterator[Any]:
        from django_tasks_db.models import DBTaskResult

        depth = GaugeMetricFamily(
            "bulwark_tasks",
            "Background tasks waiting (READY) and being run (RUNNING).",
            labels=["status"],
        )
        rows = (
            DBTaskResult.objects.filter(status__in=["READY", "RUNNING"])
            .order_by()
            .values("status")
            .annotate(n=Count("id"), oldest=Min("enqueued_at"))
        )
        by_status: dict[str, dict[str, Any]] = {str(row["status"]): dict(row) for row in rows}
        for status in ("READY", "RUNNING"):
            depth.add_metric([status], by_status.get(status, {}).get("n", 0))
        yield depth
        failed = DBTaskResult.objects.filter(
            status="FAILED", finished_at__gte=now - timedelta(hours=1)
        ).count()
        yield GaugeMetricFamily(
            "bulwark_tasks_failed_last_hour",
            "Background tasks that failed in the last hour.",
            value=failed,
        )
        oldest = by_status.get("READY", {}).get("oldest")
        yield GaugeMetricFamily(
            "bulwark_tasks_oldest_ready_age_seconds",
            "Age of the oldest task waiting for a worker (0 when none waits).",
            value=age(now, oldest),
        )


# --- NATS JetStream consumer state ----------------------------------------------------------


async def _consumer_pending(url: str, stream: str, timeout: float) -> list[tuple[str, int, int]]:
    # Lazy: the NATS client is needed only where monitoring streams are configured.
    import nats

    client = await nats.connect(
        url, connect_timeout=timeout, max_reconnect_attempts=0, allow_reconnect=False
    )
    try:
        js = client.jetstream(timeout=timeout)
        consumers = await js.consumers_info(stream)
        return [(str(c.name), c.num_pending or 0, c.num_ack_pending or 0) for c in consumers]
    finally:
        await client.close()


class NatsCollector(Collector):
    """Pending messages of every consumer of the monitoring stream. One connection per
    scrape, bounded by NATS_TIMEOUT_SECONDS; a failure adds to bulwark_metrics_nats_errors
    and the scrape goes on without these figures."""

    def __init__(self, url: str, stream: str) -> None:
        self.url, self.stream = url, stream

    def collect(self) -> Iterator[Any]:
        try:
            found = asyncio.run(
                asyncio.wait_for(
                    _consumer_pending(self.url, self.stream, NATS_TIMEOUT_SECONDS),
                    NATS_TIMEOUT_SECONDS * 2,
                )
            )
        except Exception as exc:  # an unreachable server must not break the scrape
            NATS_SCRAPE_ERRORS.inc()
            log.warning("metrics: NATS consumer state unavailable: %s", type(exc).__name__)
            yield GaugeMetricFamily("bulwark_nats_up", "NATS consumer state was read.", value=0)
            return
        yield GaugeMetricFamily("bulwark_nats_up", "NATS consumer state was read.", value=1)
        pending = GaugeMetricFamily(
            "bulwark_nats_consumer_pending",
            "Messages of the monitoring stream not yet delivered to the consumer.",
            labels=["stream", "consumer"],
        )
        unacked = GaugeMetricFamily(
            "bulwark_nats_consumer_ack_pending",
            "Messages delivered to the consumer but not acknowledged yet.",
            labels=["stream", "consumer"],
        )
        for name, num_pending, num_ack_pending in found:
            pending.add_metric([self.stream, name], num_pending)
            unacked.add_metric([self.stream, name], num_ack_pending)
        yield pending
        yield unacked


# --- The view -------------------------------------------------------------------------------


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """BULWARK_METRICS_ALLOW's networks; an entry that is not one is left out (fails
    closed) and logged (`bulwark check` names it too)."""
    networks = []
    for cidr in settings.METRICS_ALLOW:
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            log.error("BULWARK_METRICS_ALLOW: %r is not an address or network", cidr)
    return networks


def _address_allowed(request: HttpRequest) -> bool:
    ip = client_ip(request)
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _allowed_networks())


def registry(database: bool = True) -> CollectorRegistry:
    """What one scrape reports: this process's (or, in multiprocess mode, every process's)
    counted figures plus the database's and NATS's."""
    scrape = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # prometheus_client leaves this constructor unannotated
        multiprocess.MultiProcessCollector(scrape)  # type: ignore[no-untyped-call]
    else:
        scrape.register(_ProcessCollector())
    if database:
        scrape.register(DatabaseCollector())
    if settings.NATS_URL:
        scrape.register(NatsCollector(settings.NATS_URL, settings.MONITORING_STREAM))
    return scrape


class _ProcessCollector(Collector):
    """This process's own metrics (the default registry) when not in multiprocess mode."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _address_allowed(request):
        refusal = METRICS_TOKEN_REFUSAL.call(request)
        if refusal is not None:
            return JsonResponse({"detail": refusal}, status=403)
    started = time.perf_counter()
    body = generate_latest(registry())
    response = HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
    response["X-Scrape-Seconds"] = f"{time.perf_counter() - started:.3f}"
    return response
