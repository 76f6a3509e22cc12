"""Sending one advisory to 5,000 organisations with 20,000 contacts, and the CERT's
tracking view for it. Targets (issue 7): all mail queued in <= 10 s; tracking view
p95 <= 200 ms. Measured on SQLite and PostgreSQL.

Each database gets a fresh bench database (SQLite: a temporary file; PostgreSQL:
`bulwark_bench_advisories`, dropped and recreated), migrated, then filled with bulk
inserts: N agencies, 4 contacts each (security, CISO, emergency, general), one member each.
Then, in-process (Django test Client, no HTTP socket):

  send       services.send() of an approved advisory targeted at all agencies, until the
             transaction has committed and every delivery batch task is in the queue
             (20,000 Delivery rows, 5,000 targets, 5,000 in-app notifications)
  peer       the pattern the platform used before (incidents/alerts.py): one
             `core.tasks.send_email` task enqueued per recipient address, measured on the
             first 2,000 addresses and extrapolated to all (linear: one INSERT each)
  tracking   GET /advisories/<pk>/tracking/ as a CERT duty officer (counts per state + a
             page of 100 targets), GET ?state=overdue, and GET /api/v1/advisories/<pk>/tracking/
             with 40 % read, 20 % acknowledged, 20 % acted targets, after the deadline

Medians of --runs (tracking) and one send per database (sending twice would be two
advisories). One JSON line per database is appended to bench/results/advisory_send.jsonl.

Usage: python bench/advisory_send.py [--orgs 5000] [--contacts-per-org 4] [--runs 30]
       [--db sqlite|postgres|both]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "advisory_send.jsonl"
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_BENCH = "postgres://postgres@127.0.0.1:5432/bulwark_bench_advisories"
TARGET_SEND_S = 10.0
TARGET_P95_MS = 200.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Runs inside a process whose settings already point at the bench database."""
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bulwark.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from django_tasks_db.models import DBTaskResult

    from bulwark.advisories import services
    from bulwark.advisories.models import Advisory, AdvisoryCategory, Delivery, Target
    from bulwark.constituency import services as cs
    from bulwark.constituency.models import Contact, Membership, Organisation, User
    from bulwark.core.tasks import send_email

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    cert = cs.create_organisation(None, name="CERT", kind="national_cert", country="TW")
    analyst = cs.create_user(None, username="analyst", email="analyst@cert.example")
    duty = cs.create_user(None, username="duty", email="duty@cert.example")
    cs.add_membership(None, analyst, cert, "analyst")
    cs.add_membership(None, duty, cert, "duty_officer")
    orgs = Organisation.objects.bulk_create(
        Organisation(name=f"Agency {n:05d}", kind="government_agency", country="TW")
        for n in range(args.orgs)
    )
    if orgs[0].pk is None:
        orgs = list(Organisation.objects.filter(kind="government_agency").order_by("pk"))
    purposes = ["security", "ciso", "emergency", "general"]
    Contact.objects.bulk_create(
        (
            Contact(organisation=org, purpose=purposes[i % 4], email=f"c{i}@a{org.pk}.example")
            for org in orgs
            for i in range(args.contacts_per_org)
        ),
        batch_size=5000,
    )
    users = User.objects.bulk_create(
        (User(username=f"member{org.pk}", email=f"member@a{org.pk}.example") for org in orgs),
        batch_size=5000,
    )
    if users[0].pk is None:
        users = list(User.objects.filter(username__startswith="member").order_by("pk"))
    Membership.objects.bulk_create(
        (
            Membership(user=u, organisation=o, role="reporter")
            for u, o in zip(users, orgs, strict=True)
        ),
        batch_size=5000,
    )
    setup_s = time.perf_counter() - started

    advisory = services.create_advisory(
        analyst,
        title="Benchmark advisory",
        summary="Patch now.",
        body="**Details** of the flaw.\n" * 20,
        category=AdvisoryCategory.objects.get(code="vulnerability-alert"),
        severity="critical",
        tlp="amber",
        response_required="action",
        response_deadline=timezone.now() + timedelta(days=2),
        target_all=True,
    )
    services.submit(analyst, advisory)
    services.approve(duty, advisory)
    DBTaskResult.objects.all().delete()
    # A running server has its URL patterns and modules loaded: warm them up first.
    from django.urls import reverse

    import bulwark.advisories.tasks  # noqa: F401

    reverse("advisory-detail", args=[advisory.pk])
    profile_send = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profile_send = cProfile.Profile()
        profile_send.enable()
    t0 = time.perf_counter()
    with transaction.atomic():
        services.send(duty, advisory)
    send_s = time.perf_counter() - t0  # on_commit enqueues have run when atomic() returns
    if profile_send is not None:
        import pstats

        profile_send.disable()
        pstats.Stats(profile_send, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
    deliveries = Delivery.objects.filter(advisory=advisory).count()
    tasks = DBTaskResult.objects.count()

    # Peer: one send_email task per address, on a sample, extrapolated.
    sample = list(Delivery.objects.values_list("email", flat=True)[:2000])
    t0 = time.perf_counter()
    with transaction.atomic():
        for email in sample:
            transaction.on_commit(
                lambda e=email: send_email.enqueue("subject", "body", [e])  # type: ignore[misc]
            )
    peer_sample_s = time.perf_counter() - t0
    peer_s = peer_sample_s * deliveries / max(1, len(sample))
    DBTaskResult.objects.all().delete()

    # States: 40 % read only, 20 % acknowledged, 20 % acted, 20 % unread; then past the
    # deadline so the unanswered ones are overdue.
    now = timezone.now()
    ids = list(Target.objects.filter(advisory=advisory).order_by("pk").values_list("pk", flat=True))
    fifth = len(ids) // 5
    Target.objects.filter(pk__in=ids[: fifth * 2]).update(read_at=now)
    Target.objects.filter(pk__in=ids[fifth * 2 : fifth * 3]).update(
        read_at=now, acknowledged_at=now
    )
    Target.objects.filter(pk__in=ids[fifth * 3 : fifth * 4]).update(
        read_at=now, acknowledged_at=now, acted_at=now, action="patched"
    )
    Advisory.objects.filter(pk=advisory.pk).update(response_deadline=now - timedelta(hours=1))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    client = Client()
    client.force_login(duty)
    device = TOTPDevice.objects.create(user=duty, name="bench", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    paths = {
        "tracking_page": f"/advisories/{advisory.pk}/tracking/",
        "tracking_overdue": f"/advisories/{advisory.pk}/tracking/?state=overdue",
        "tracking_api": f"/api/v1/advisories/{advisory.pk}/tracking/?limit=100",
    }
    timings: dict[str, dict[str, float]] = {}
    for name, path in paths.items():
        assert client.get(path).status_code == 200, path  # warm-up
        samples = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        timings[name] = {
            "p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(percentile(samples, 0.95), 1),
        }
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        for _ in range(5):
            client.get(paths["tracking_page"])
        profile.disable()
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        from django.db import reset_queries
        from django.test.utils import CaptureQueriesContext

        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            client.get(paths["tracking_page"])
        for query in captured.captured_queries:
            print(query["time"], query["sql"][:300], file=sys.stderr)
    counts = client.get(paths["tracking_api"]).json()["results"]["counts"]
    return {
        "database": connection.vendor,
        "organisations": len(orgs),
        "contacts": Contact.objects.count(),
        "targets": len(ids),
        "deliveries": deliveries,
        "tasks_queued": tasks,
        "setup_s": round(setup_s, 1),
        "send_s": round(send_s, 2),
        "send_target_s": TARGET_SEND_S,
        "peer": "one send_email task per address (incidents/alerts.py pattern), "
        f"measured on {len(sample)} addresses and extrapolated",
        "peer_send_s": round(peer_s, 2),
        "speedup_vs_peer": round(peer_s / send_s, 1) if send_s else None,
        "tracking": timings,
        "tracking_target_p95_ms": TARGET_P95_MS,
        "counts": counts,
    }


def run_database(db: str, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ)
    tmp = tempfile.mkdtemp(prefix="bulwark-bench-adv-")
    env["BULWARK_DATA_DIR"] = tmp
    env.pop("DATABASE_URL", None)
    if db == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS bulwark_bench_advisories")
            conn.execute("CREATE DATABASE bulwark_bench_advisories")
        env["DATABASE_URL"] = PG_BENCH
    command = [
        sys.executable,
        __file__,
        "--child",
        "--orgs",
        str(args.orgs),
        "--contacts-per-org",
        str(args.contacts_per_org),
        "--runs",
        str(args.runs),
    ]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if output.returncode != 0:
        raise SystemExit(f"{db} run failed:\n{output.stderr[-4000:]}")
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orgs", type=int, default=5000)
    parser.add_argument("--contacts-per-org", type=int, default=4)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    for db in databases:
        load_before = os.getloadavg()
        result = run_database(db, args)
        result.update(
            {
                "bench": "advisory_send",
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "host": platform.node(),
                "cpus": os.cpu_count(),
                "loadavg_before": [round(x, 2) for x in load_before],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                "runs": args.runs,
            }
        )
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write(json.dumps(result) + "\n")
        tracking = result["tracking"]
        print(
            f"{db}: send {result['send_s']} s for {result['deliveries']} e-mails to "
            f"{result['targets']} organisations ({result['tasks_queued']} tasks; target "
            f"<= {TARGET_SEND_S} s; peer {result['peer_send_s']} s, "
            f"x{result['speedup_vs_peer']}); tracking p95 "
            + ", ".join(f"{k} {v['p95_ms']} ms" for k, v in tracking.items())
            + f" (target <= {TARGET_P95_MS} ms); load {result['loadavg_before']}"
        )


if __name__ == "__main__":
    main()
