"""Drills (issue 22): scheduling a campaign to 20,000 recipients in 500 agencies, and the
tracking endpoint's throughput and latency. Targets: scheduling <= 10 s; tracking >= 2,000
events/s on 2 cores with p99 <= 50 ms.

A fresh database (SQLite: a temporary file by default; or DATABASE_URL) is migrated and
filled with bulk inserts: N agencies taking part, R recipients spread over them (5 mail
domains per agency). Then, in this process:

  schedule   services.launch() of the draft campaign: every recipient's send time in
             business hours of its agency's zone, jittered, rate-limited per mail domain,
             written with bulk_update, until the transaction commits
  service    the same number of services.record_hit() calls without HTTP (the share of
             the middleware stack in each request)
  tracking   GET /d/<token>/open.gif (and /go, the click redirect) through Django's test
             Client (the whole middleware stack, no HTTP socket, one process: a gunicorn
             with 2 workers would serve about twice this), a desktop browser's agent,
             each request one DrillEvent row; events/s over the run and per-request p50/p99

One JSON line is appended to bench/results/drills_tracking.jsonl.

Usage: python bench/drills_tracking.py [--agencies 500] [--recipients 20000] [--hits 3000]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "drills_tracking.jsonl"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bulwark.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from bulwark.constituency import services as cs
    from bulwark.constituency.models import Organisation
    from bulwark.drills import services
    from bulwark.drills.models import DrillEvent, Participant, Recipient, SendingProfile

    call_command("migrate", verbosity=0)
    cert = cs.create_organisation(None, name="CERT", kind="national_cert", country="TW")
    analyst = cs.create_user(None, username="analyst", email="a@example.org", password="p" * 14)
    cs.add_membership(None, analyst, cert, "analyst")
    orgs = Organisation.objects.bulk_create(
        Organisation(name=f"Agency {i:04d}", kind="government_agency", parent=cert)
        for i in range(args.agencies)
    )
    profile = SendingProfile.objects.create(name="bench", from_address="it@bench.example")
    campaign = services.create_campaign(
        analyst, organisations=[], name="Bench", subject_en="s", subject_zh_hant="s",
        body_en="{{link}}", body_zh_hant="{{link}}", tracking_domain="t.example",
        sending_profile=profile, starts_at=timezone.now(), spread_days=5,
    )  # fmt: skip
    Participant.objects.bulk_create(Participant(campaign=campaign, organisation=o) for o in orgs)
    Recipient.objects.bulk_create(
        (
            Recipient(
                campaign=campaign,
                organisation=orgs[i % len(orgs)],
                email=f"p{i}@d{i % (len(orgs) * 5)}.gov.example",
                language="zh-hant",
                token=services.new_token(),
            )
            for i in range(args.recipients)
        ),
        batch_size=2000,
    )
    started = time.perf_counter()
    services.launch(analyst, campaign)
    schedule_s = time.perf_counter() - started
    planned = Recipient.objects.filter(send_at__isnull=False).count()

    tokens = list(Recipient.objects.values_list("token", flat=True)[: args.hits])
    Recipient.objects.filter(token__in=tokens).update(sent_at=timezone.now())
    client = Client()
    latencies: list[float] = []
    started = time.perf_counter()
    for n, token in enumerate(tokens):
        path = f"/d/{token}/open.gif" if n % 2 == 0 else f"/d/{token}/go"
        t0 = time.perf_counter()
        reply = client.get(path, HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="203.0.113.7")
        latencies.append((time.perf_counter() - t0) * 1000)
        assert reply.status_code in (200, 302), reply.status_code
    tracking_s = time.perf_counter() - started
    recorded = DrillEvent.objects.exclude(kind="sent").count()
    assert recorded == len(tokens), (recorded, len(tokens))
    # The same writes without HTTP (services.record_hit alone): what the middleware costs.
    started = time.perf_counter()
    for token in tokens:
        services.record_hit(token, "opened", agent=BROWSER, ip="203.0.113.8")
    service_s = time.perf_counter() - started
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": django.db.connection.vendor,
        "agencies": args.agencies,
        "recipients": args.recipients,
        "planned": planned,
        "schedule_s": round(schedule_s, 2),
        "hits": len(tokens),
        "events_per_s": round(len(tokens) / tracking_s, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "service_only_events_per_s": round(len(tokens) / service_s, 1),
        "python": platform.python_version(),
        "note": "test Client, one process, shared 2-core machine (see load)",
        "load": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agencies", type=int, default=500)
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--hits", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
        result = run(args)
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
