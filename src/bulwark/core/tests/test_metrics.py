"""`/metrics`: who may read it, and that its figures follow what happens on the platform."""

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from bulwark.conftest import bearer
from bulwark.constituency import services as cs
from bulwark.constituency.models import User
from bulwark.core.tasks import send_email
from bulwark.incidents.models import Incident
from bulwark.incidents.tests.test_journey import People, report

SRC = str(Path(__file__).resolve().parents[3])
SETUP = "import django; django.setup(); from bulwark.core import metrics; "


def scrape(client: Client, **extra: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def admin_token(platform_admin: User) -> dict[str, str]:
    return bearer(platform_admin, ["audit:read"])


def test_anonymous_and_non_admins_are_refused(db: None, settings: Any) -> None:
    settings.METRICS_ALLOW = []
    agency = cs.create_organisation(None, name="Agency", kind="government_agency", country="TW")
    analyst = cs.create_user(None, username="ann", email="ann@example.org", password="p" * 14)
    cs.add_membership(None, analyst, agency, "org_admin")
    anonymous = Client().get("/metrics")
    assert anonymous.status_code == 403
    assert "platform admin" in anonymous.json()["detail"]
    assert "bulwark_" not in anonymous.content.decode()
    not_admin = Client().get("/metrics", **bearer(analyst))
    assert not_admin.status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer bwk_nonsense").status_code == 403
    # An address outside the allowed networks is refused too.
    settings.METRICS_ALLOW = ["10.0.0.0/8", "not-a-network"]
    assert Client().get("/metrics", REMOTE_ADDR="192.0.2.1").status_code == 403


def test_allowed_address_reads_without_token(db: None, settings: Any) -> None:
    settings.METRICS_ALLOW = ["192.0.2.0/24", "2001:db8::/32"]
    assert Client().get("/metrics", REMOTE_ADDR="192.0.2.77").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="2001:db8::5").status_code == 200


def test_counts_a_request_after_it_is_made(admin_token: dict[str, str]) -> None:
    client = Client(**admin_token)
    labels = {"view": "health", "status": "2xx"}
    before = value(scrape(client), "bulwark_http_request_duration_seconds_count", **labels)
    assert Client().get("/health/").status_code == 200
    after = scrape(client)
    assert value(after, "bulwark_http_request_duration_seconds_count", **labels) == before + 1
    # A path that routes nowhere is counted under one label, not one series per path.
    Client().get(f"/no-such-page-{uuid.uuid4().hex}/")
    later = scrape(client)
    assert (
        value(later, "bulwark_http_request_duration_seconds_count", view="unrouted", status="4xx")
        >= 1
    )
    assert not any(name[1] and "no-such-page" in str(name[1]) for name in later)


def test_shows_queue_depth_after_enqueuing_a_task(admin_token: dict[str, str]) -> None:
    client = Client(**admin_token)
    assert value(scrape(client), "bulwark_tasks", status="READY") == 0
    send_email.enqueue("Subject", "Body", ["someone@example.org"])
    send_email.enqueue("Subject", "Body", ["someone@example.org"])
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(minutes=7))
    samples = scrape(client)
    assert value(samples, "bulwark_tasks", status="READY") == 2
    assert value(samples, "bulwark_tasks_oldest_ready_age_seconds") >= 7 * 60


def test_shows_an_overdue_clock(db: None, settings: Any) -> None:
    people = People()
    admin = cs.create_user(None, username="root", email="root@example.org", password="p" * 14)
    cs.add_membership(None, admin, people.cert, "platform_admin")
    client = Client(**bearer(admin))
    assert value(scrape(client), "bulwark_incident_clocks_overdue") == 0
    created = report(people)
    assert created.status_code == 201, created.json()
    incident = Incident.objects.get(pk=created.json()["id"])
    assert incident.next_due_at is not None and incident.next_due_at > timezone.now()
    assert value(scrape(client), "bulwark_incident_clocks_overdue") == 0
    # The review clock runs out: the incident is overdue until someone acts.
    Incident.objects.filter(pk=incident.pk).update(next_due_at=timezone.now() - timedelta(hours=2))
    samples = scrape(client)
    assert value(samples, "bulwark_incident_clocks_overdue") == 1
    assert value(samples, "bulwark_incident_clocks_overdue_max_seconds") >= 2 * 3600 - 5


def test_exchange_figures_follow_the_reports(admin_token: dict[str, str]) -> None:
    from bulwark.exchange.models import Quarantined, Report

    done = Report.objects.create(
        sha256="a" * 64, size=10, source="file", status="done",
        counts={"read": 5, "events": 4, "routed": 3, "unrouted": 1, "duplicates": 1},
    )  # fmt: skip
    failed = Report.objects.create(
        sha256="b" * 64, size=10, source="file", status="failed", counts={"rejected": 1}
    )
    Report.objects.create(sha256="c" * 64, size=10, source="upload")  # still processing
    Report.objects.filter(sha256="c" * 64).update(received_at=timezone.now() - timedelta(minutes=3))
    Quarantined.objects.create(report=failed, record_no=0, reason="unreadable", raw="")
    samples = scrape(Client(**admin_token))
    assert value(samples, "bulwark_exchange_reports_total", status="done") == 1
    assert value(samples, "bulwark_exchange_reports_total", status="failed") == 1
    assert value(samples, "bulwark_exchange_reports_total", status="processing") == 1
    assert value(samples, "bulwark_exchange_events_total", stage="read") == 5
    assert value(samples, "bulwark_exchange_events_total", stage="routed") == 3
    assert value(samples, "bulwark_exchange_events_total", stage="rejected") == 1
    assert value(samples, "bulwark_exchange_quarantined", status="open") == 1
    assert value(samples, "bulwark_exchange_processing_age_seconds") >= 170
    assert done.pk


def test_monitoring_counters_follow_the_workers(admin_token: dict[str, str]) -> None:
    from bulwark.core import metrics

    client = Client(**admin_token)
    before = scrape(client)
    metrics.count_batches(["stored", "stored", "refused: no organisation 'X'"], lines=70, hits=3)
    after = scrape(client)
    for name, delta in [
        ("bulwark_monitoring_lines_total", 70),
        ("bulwark_monitoring_hits_total", 3),
    ]:
        assert value(after, name) == value(before, name) + delta
    assert value(after, "bulwark_monitoring_batches_total", outcome="stored") == (
        value(before, "bulwark_monitoring_batches_total", outcome="stored") + 2
    )
    assert value(after, "bulwark_monitoring_batches_total", outcome="refused") == (
        value(before, "bulwark_monitoring_batches_total", outcome="refused") + 1
    )


def test_unreachable_nats_is_counted_not_raised(admin_token: dict[str, str], settings: Any) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.NATS_URL = f"nats://127.0.0.1:{port}"
    client = Client(**admin_token)
    before = value(scrape(client), "bulwark_metrics_nats_errors_total")
    samples = scrape(client)
    assert value(samples, "bulwark_nats_up") == 0
    assert value(samples, "bulwark_metrics_nats_errors_total") == before + 1


def test_nats_consumer_pending(admin_token: dict[str, str], settings: Any, nats_url: str) -> None:
    import nats

    stream = f"M{uuid.uuid4().hex[:10]}"

    async def prepare() -> None:
        client = await nats.connect(nats_url)
        try:
            js = client.jetstream()
            await js.add_stream(name=stream, subjects=[f"{stream}.>"])
            await js.pull_subscribe(f"{stream}.>", durable="workers", stream=stream)
            for i in range(3):
                await js.publish(f"{stream}.AG1", f"batch {i}".encode())
        finally:
            await client.close()

    async def remove() -> None:
        client = await nats.connect(nats_url)
        try:
            await client.jetstream().delete_stream(stream)
        finally:
            await client.close()

    asyncio.run(prepare())
    try:
        settings.NATS_URL, settings.MONITORING_STREAM = nats_url, stream
        samples = scrape(Client(**admin_token))
        assert value(samples, "bulwark_nats_up") == 1
        assert (
            value(samples, "bulwark_nats_consumer_pending", stream=stream, consumer="workers") == 3
        )
    finally:
        asyncio.run(remove())


def python(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_multiprocess_mode_adds_up_the_gunicorn_workers(tmp_path: Path) -> None:
    """Several web processes (gunicorn workers) with PROMETHEUS_MULTIPROC_DIR: a scrape
    served by any one of them counts the requests all of them served."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        BULWARK_DATA_DIR=str(tmp_path), PYTHONPATH=SRC, PROMETHEUS_MULTIPROC_DIR=str(shared),
        DJANGO_SETTINGS_MODULE="bulwark.settings",
    )  # fmt: skip
    for seconds in (0.02, 0.3):  # two worker processes, one request each
        done = python(env, SETUP + f"metrics.observe_request('health', 200, {seconds})")
        assert done.returncode == 0, done.stderr
    code = "from prometheus_client import generate_latest; "
    code += "print(generate_latest(metrics.registry(database=False)).decode())"
    out = python(env, SETUP + code)
    assert out.returncode == 0, out.stderr
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(out.stdout)
        for s in family.samples
    }
    labels = (("status", "2xx"), ("view", "health"))
    assert samples[("bulwark_http_request_duration_seconds_count", labels)] == 2
    assert abs(samples[("bulwark_http_request_duration_seconds_sum", labels)] - 0.32) < 1e-6


def test_a_missing_metrics_directory_is_named_at_start(tmp_path: Path) -> None:
    """prometheus_client alone fails on the first counter with a bare FileNotFoundError."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        BULWARK_DATA_DIR=str(tmp_path), PYTHONPATH=SRC, DJANGO_SETTINGS_MODULE="bulwark.settings",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "missing"),
    )  # fmt: skip
    done = python(env, SETUP + "print('started')")
    assert done.returncode != 0 and "started" not in done.stdout
    assert f"PROMETHEUS_MULTIPROC_DIR={tmp_path / 'missing'} is not a directory" in done.stderr
    # Logging alone (BULWARK_LOG_FORMAT=json) does not touch the metrics.
    env["BULWARK_LOG_FORMAT"] = "json"
    logged = python(env, "import django; django.setup(); print('configured')")
    assert logged.returncode == 0 and logged.stdout.strip() == "configured", logged.stderr


def test_check_names_a_bad_allow_entry(db: None, settings: Any) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.METRICS_ALLOW = ["10.0.0.0/8", "10.0.0.0/33"]
    with pytest.raises(SystemCheckError, match=r"bulwark\.E020.*10\.0\.0\.0/33"):
        call_command("check")
    from bulwark.core.checks import metrics_allow_list

    settings.METRICS_ALLOW = ["10.0.0.0/8", "192.0.2.7"]
    assert metrics_allow_list() == []
