"""Training at national scale (issue 24). Targets: 300 learners taking an exam at once
on 2 cores: answer saves p99 <= 300 ms with zero errors; the compliance view for an agency
of 5,000 staff and for the CERT over 20,000 learners and 1 M records, p95 <= 300 ms.

A fresh bench database (SQLite: a temporary file; PostgreSQL: `bulwark_bench_training`,
dropped and recreated), migrated, then:

  saves       300 learners, each signed in on the learner pages with its own session, each
              with an attempt started; 300 threads (one per learner) all released at once,
              each POSTing its answers to /training/learn/attempts/<id>/answer/ (the page
              script's request), 5 questions, and then every save once more (a retry after
              a lost connection, which must change nothing), each after a think time drawn
              uniformly in [0, 2 * --think] s (--think 0: all 3,000 saves at once).
              In-process (Django test Client, no socket): the GIL and the database are
              the contention.
  compliance  20,000 learners over 4 agencies (one of 5,000) with their yearly totals and
              --records training records (bulk inserted, as the import would leave them),
              GET /training/compliance/ as a CERT analyst (every agency) and
              GET /training/compliance/?organisation=<the 5,000> as that agency's admin.

One JSON line per database is appended to bench/results/training_exam.jsonl.

Usage: python bench/training_exam.py [--learners 300] [--records 1000000] [--runs 20]
       [--think 5] [--db sqlite|postgres|both]
"""

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "training_exam.jsonl"
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_BENCH = "postgres://postgres@127.0.0.1:5432/bulwark_bench_training"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def child(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bulwark.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("migrate", verbosity=0)
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from bulwark.constituency import services as cs
    from bulwark.constituency.models import Organisation, User
    from bulwark.training import services
    from bulwark.training.models import HoursTotal, Learner, TrainingRecord

    cert = Organisation.objects.create(name="CERT", kind="national_cert")
    analyst = User.objects.create_user("analyst", "analyst@bench.example", "x" * 16)
    cs.add_membership(None, analyst, cert, "analyst")
    agencies = [Organisation.objects.create(name=f"Agency {i}", kind="government_agency")
                for i in range(4)]  # fmt: skip
    admin = User.objects.create_user("admin0", "admin0@bench.example", "x" * 16)
    cs.add_membership(None, admin, agencies[0], "org_admin")
    course = services.create_course(analyst, cert, code="bench", title="Bench",
                                    hours=Decimal(3), hours_kind="general")  # fmt: skip
    exam = services.set_exam(analyst, course, questions_per_attempt=5, pass_mark=60,
                             time_limit_minutes=60, max_attempts=0)  # fmt: skip
    for i in range(10):
        options = [{"id": "a", "text": "A", "correct": True},
                   {"id": "b", "text": "B", "correct": False}]  # fmt: skip
        services.add_question(analyst, exam, kind="single", text=f"Q{i}", options=options)
    services.publish_course(analyst, course)

    # --- saves
    learners = []
    for i in range(args.learners):
        learner = Learner(organisation=agencies[1], staff_id=f"S{i}", name=f"Learner {i}",
                          email=f"s{i}@bench.example", role="general")  # fmt: skip
        learner.set_password("learner-password")
        learners.append(learner)
    Learner.objects.bulk_create(learners)
    services.enrol(analyst, course, agencies[1], everyone=True)
    sessions = []
    for learner in Learner.objects.filter(organisation=agencies[1]):
        client = Client()
        client.post("/training/learn/sign-in/", {"email": learner.email,
                                                 "password": "learner-password"})  # fmt: skip
        attempt = services.start_attempt(learner, exam)
        sessions.append((client, attempt))
    connection.close()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(sessions))

    def take(client: Any, attempt: Any) -> None:
        from django.db import connection as conn

        barrier.wait()
        mine = []
        pause = random.Random(attempt.pk)  # think time, not a secret
        try:
            for repeat in range(2):
                for revision, qid in enumerate(attempt.question_ids, start=1):
                    if args.think:
                        time.sleep(pause.uniform(0, 2 * args.think))
                    started = time.perf_counter()
                    response = client.post(
                        f"/training/learn/attempts/{attempt.pk}/answer/",
                        json.dumps({"question": qid, "chosen": ["a"], "revision": revision}),
                        content_type="application/json",
                    )
                    mine.append((time.perf_counter() - started) * 1000)
                    body = response.json() if response.status_code == 200 else {}
                    if response.status_code != 200 or body.get("applied") is not (repeat == 0):
                        with lock:
                            errors.append(f"{response.status_code} {body}")
        except Exception as exc:  # a bench counts every failure
            with lock:
                errors.append(repr(exc))
        finally:
            conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=take, args=s) for s in sessions]
    wall = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall
    saves = {"learners": len(sessions), "think_s": args.think, "saves": len(latencies),
             "errors": len(errors),
             "first_errors": errors[:3], "p50_ms": round(percentile(latencies, 0.5), 1),
             "p99_ms": round(percentile(latencies, 0.99), 1),
             "max_ms": round(max(latencies), 1), "wall_s": round(wall, 2)}  # fmt: skip
    print("saves", saves, flush=True)

    # --- compliance
    sizes = [5000, 5000, 5000, 5000 - args.learners]
    year = date.today().year
    started = time.perf_counter()
    for org, size in zip(agencies, sizes, strict=True):
        roles = ["security_staff", "it_staff", "general", "supervisor"]
        Learner.objects.bulk_create([
            Learner(organisation=org, staff_id=f"{org.pk}-{i}", name=f"Staff {org.pk}-{i}",
                    email=f"{org.pk}-{i}@bench.example", role=roles[i % 4])
            for i in range(size)
        ], batch_size=2000)  # fmt: skip
    people = list(Learner.objects.values_list("pk", "organisation_id"))
    per = max(1, args.records // len(people))
    batch: list[TrainingRecord] = []
    totals: dict[tuple[int, int, str], Decimal] = {}
    made = 0
    for n, (pk, org_id) in enumerate(people):
        for k in range(per):
            y = year - (k % 2)
            kind = "general" if (n + k) % 3 else "professional"
            hours = Decimal((n + k) % 5)
            batch.append(TrainingRecord(
                learner_id=pk, organisation_id=org_id, completed_on=date(y, 1 + k % 12, 1),
                year=y, hours=hours, kind=kind, title="Bench course", source="import",
            ))  # fmt: skip
            totals[(pk, y, kind)] = totals.get((pk, y, kind), Decimal(0)) + hours
            made += 1
        if len(batch) >= 20000:
            TrainingRecord.objects.bulk_create(batch)
            batch = []
    TrainingRecord.objects.bulk_create(batch)
    orgs = dict(people)
    HoursTotal.objects.bulk_create([
        HoursTotal(learner_id=pk, organisation_id=orgs[pk], year=y, kind=kind, hours=h)
        for (pk, y, kind), h in totals.items()
    ], batch_size=5000)  # fmt: skip
    fill_s = time.perf_counter() - started
    print(f"filled {len(people)} learners, {made} records in {fill_s:.0f} s", flush=True)

    def timed(user: Any, url: str) -> dict[str, float]:
        client = Client()
        client.force_login(user)
        device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        assert client.get(url).status_code == 200
        runs = []
        for _ in range(args.runs):
            t = time.perf_counter()
            response = client.get(url)
            runs.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200
        return {
            "p50_ms": round(percentile(runs, 0.5), 1),
            "p95_ms": round(percentile(runs, 0.95), 1),
        }

    cert_view = timed(analyst, f"/training/compliance/?year={year}")
    agency_view = timed(admin, f"/training/compliance/?organisation={agencies[0].pk}&year={year}")
    print("compliance cert", cert_view, "agency", agency_view, flush=True)
    return {"saves": saves, "compliance_cert_20000": cert_view,
            "compliance_agency_5000": agency_view, "learners_total": len(people),
            "records": made, "fill_s": round(fill_s, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=300)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--think", type=float, default=5.0,
        help="mean seconds a learner spends on a question before its answer is saved "
        "(0: every save at once, a burst no exam produces)",
    )  # fmt: skip
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args)), flush=True)
        return
    for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        tmp = None
        if db == "sqlite":
            tmp = tempfile.mkdtemp(prefix="bench-training-")
            env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        else:
            for sql in ("DROP DATABASE IF EXISTS bulwark_bench_training",
                        "CREATE DATABASE bulwark_bench_training"):  # fmt: skip
                subprocess.run(["psql", PG_ADMIN, "-c", sql], check=True, capture_output=True)
            env["DATABASE_URL"] = PG_BENCH
        argv = [sys.executable, __file__, "--child", "--learners", str(args.learners),
                "--records", str(args.records), "--runs", str(args.runs),
                "--think", str(args.think)]  # fmt: skip
        out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        sys.stderr.write(out.stderr[-3000:])
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(out.stdout[-3000:])
            raise SystemExit(f"{db}: the bench failed")
        result = {"db": db, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "host": platform.node(), "cpus": os.cpu_count(),
                  "note": "shared machine, other agents running",
                  **json.loads(line[7:])}  # fmt: skip
        print(json.dumps(result, indent=1))
        with RESULTS.open("a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
