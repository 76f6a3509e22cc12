"""Drills (issue 22): the campaign results dashboard at 1 M events. Target: p95 <= 300 ms.

A fresh database (SQLite: a temporary file by default; or DATABASE_URL, e.g.
postgres://postgres@127.0.0.1:5432/bulwark_bench, migrated as it is: give it an empty
database) with N agencies, a previous campaign and the campaign shown,
R recipients each, all delivered, and E tracked events in the campaign shown (plus a
tenth of that in the previous one), written with plain multi-row INSERTs: opens, clicks,
page loads, submits and reports, a third of them a mail gateway's (automated), the
share of people who click and report drawn at random per agency. Each person's outcome
columns are then rolled up from their events (`services.roll_up()`, what the tracking
services keep up to date per hit; the per-agency figures follow by the recipients'
triggers), and timed.

Then, warm, --runs times each:
  selector  selectors.results(campaign, CERT analyst): every agency's rates, the sector
            and authority aggregates, the previous campaign's rates, every repeat clicker
            (what the API answers)
  page      GET /drills/<id>/ as the CERT analyst (both factors passed), through the whole
            Django stack (test Client, no socket): the selector without the repeat
            clickers, their count and first page of 50, and the page's template
p50 and p95 of each; one JSON line appended to bench/results/drills_dashboard.jsonl.

Usage: python bench/drills_dashboard.py [--agencies 500] [--recipients 20000]
       [--events 1000000] [--runs 30]
"""

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "drills_dashboard.jsonl"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(runs: int, work: Any) -> dict[str, float]:
    """Wall time, and this process's CPU time (on a loaded machine the wall time waits for
    a core; the CPU time does not, but leaves out the database server's own work)."""
    work()  # warm
    times, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        work()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "cpu_p50_ms": round(statistics.median(cpu), 1),
        "cpu_p95_ms": round(percentile(cpu, 0.95), 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bulwark.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from bulwark.constituency import services as cs
    from bulwark.constituency.models import Organisation, Sector
    from bulwark.drills import selectors, services
    from bulwark.drills.models import (
        Campaign,
        CampaignAgency,
        DrillEvent,
        Recipient,
        SendingProfile,
    )

    call_command("migrate", verbosity=0)
    rng = random.Random(22)
    cert = cs.create_organisation(None, name="CERT", kind="national_cert", country="TW")
    analyst = cs.create_user(None, username="analyst", email="a@example.org", password="p" * 14)
    cs.add_membership(None, analyst, cert, "analyst")
    sectors = [Sector.objects.get_or_create(code=f"s{i}", defaults={"name": f"Sector {i}"})[0]
               for i in range(10)]  # fmt: skip
    authorities = Organisation.objects.bulk_create(
        Organisation(name=f"Ministry {i:02d}", kind="authority", parent=cert) for i in range(20)
    )
    orgs = Organisation.objects.bulk_create(
        Organisation(name=f"Agency {i:04d}", kind="government_agency",
                     parent=authorities[i % 20], sector=sectors[i % 10])
        for i in range(args.agencies)
    )  # fmt: skip
    profile = SendingProfile.objects.create(name="bench", from_address="it@bench.example")
    now = timezone.now()
    campaigns = []
    for name, starts in (("Previous", now - timedelta(days=180)), ("Current", now)):
        campaign = services.create_campaign(
            analyst, organisations=[], name=name, subject_en="s", subject_zh_hant="s",
            body_en="{{link}}", body_zh_hant="{{link}}", tracking_domain="t.example",
            sending_profile=profile, starts_at=starts,
            previous=campaigns[-1] if campaigns else None,
        )  # fmt: skip
        CampaignAgency.objects.bulk_create(
            CampaignAgency(campaign=campaign, organisation=o) for o in orgs
        )
        Recipient.objects.bulk_create(
            (
                Recipient(
                    campaign=campaign,
                    organisation=orgs[i % len(orgs)],
                    email=f"p{i}@d{i % len(orgs)}.gov.example",
                    language="en",
                    token=services.new_token(),
                    sent_at=starts + timedelta(minutes=i % 600),
                )
                for i in range(args.recipients)
            ),
            batch_size=2000,
        )
        campaigns.append(campaign)
    Campaign.objects.update(state=Campaign.State.RUNNING)
    previous, current = campaigns

    started = time.perf_counter()
    table = DrillEvent._meta.db_table
    columns = "(recipient_id, campaign_id, kind, at, automated, ip, agent)"
    adapt = connection.ops.adapt_datetimefield_value
    for campaign, total in ((current, args.events), (previous, args.events // 10)):
        people = list(
            Recipient.objects.filter(campaign=campaign).values_list(
                "pk", "organisation_id", "sent_at"
            )
        )
        click_share = {o.pk: rng.uniform(0.02, 0.3) for o in orgs}
        rows: list[tuple[Any, ...]] = []
        for n in range(total):
            pk, org_id, sent_at = people[n % len(people)]
            round_ = n // len(people)
            at = sent_at + timedelta(minutes=5 + round_ * 7, seconds=n % 60)
            if round_ % 3 == 2:  # a gateway's request
                rows.append((pk, campaign.pk, "clicked", adapt(at), "scanner agent", None,
                             "Proofpoint URL Defense"))  # fmt: skip
                continue
            if rng.random() < click_share[org_id]:
                kind = rng.choice(["clicked", "page", "submitted", "reported"])
            else:
                kind = "opened"
            rows.append((pk, campaign.pk, kind, adapt(at), "", "203.0.113.9", BROWSER))
        with transaction.atomic(), connection.cursor() as cursor:
            for i in range(0, len(rows), 500):
                chunk = rows[i : i + 500]
                marks = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
                cursor.execute(
                    f"INSERT INTO {table} {columns} VALUES {marks}",
                    [v for row in chunk for v in row],
                )
    insert_s = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        services.roll_up()
    roll_up_s = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    results = selectors.results(current, analyst)
    if args.profile:
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            selectors.results(current, analyst)
        for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:5]:
            print(query["time"], query["sql"][:600])

    selector = timed(args.runs, lambda: selectors.results(current, analyst))

    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()  # signed in with both factors, as the tests' sign_in leaves a session
    client.force_login(analyst)
    device = TOTPDevice.objects.create(user=analyst, name="bench", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    reply = client.get(f"/drills/{current.pk}/")
    assert reply.status_code == 200, reply.status_code
    page = timed(args.runs, lambda: client.get(f"/drills/{current.pk}/"))
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "label": args.label,
        "database": connection.vendor,
        "agencies": args.agencies,
        "recipients_per_campaign": args.recipients,
        "events": DrillEvent.objects.count(),
        "events_in_campaign_shown": DrillEvent.objects.filter(campaign=current).count(),
        "insert_s": round(insert_s, 1),
        "roll_up_s": round(roll_up_s, 1),
        "human_clickers": results.total.clicked,
        "repeat_clickers": len(results.repeat_clickers),
        "page_bytes": len(reply.content),
        "selector": selector,
        "page": page,
        "meets_target": page["p95_ms"] <= 300,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "load_average": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agencies", type=int, default=500)
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--label", default="")
    parser.add_argument("--profile", action="store_true", help="print the selector's profile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
        os.environ.setdefault("BULWARK_DATA_DIR", tmp)
        os.environ.setdefault("BULWARK_LOG_LEVEL", "WARNING")
        result = run(args)
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
