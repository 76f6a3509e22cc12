"""Training at national scale (issue 24). Targets: 300 learners taking an exam at once
on 2 cores: answer saves p99 <= 300 ms with zero errors; the compliance view for an agency
of 5,000 staff and for the CERT over 20,000 learners and 1 M records, p95 <= 300 ms.

A fresh bench database (SQLite: a temporary file; PostgreSQL: `bulwark_bench_training`,
or BENCH_DATABASE_URL, dropped and recreated), migrated and filled by a child process:
300 learners signed in on the learner pages (one session each) with an attempt started;
20,000 learners over 4 agencies (one of 5,000) with --records training records and their
yearly totals (written by SQL in the database, as an import would leave them); a CERT
analyst and the 5,000's agency admin signed in with their second factor.

Then the database is served as in production: gunicorn with `bulwark/gunicorn_conf.py`
(`bulwark serve`: one process per core, 8 threads each), and an asyncio HTTP client in
this process (one keep-alive connection per learner, reopened after the server's
keep-alive) runs:

  ceiling     the same 300 clients and think times on GET /health/ (5 small reads, no
              write): what this server on this machine answers at that arrival rate, so
              the saves' figure can be read against it.
  saves       300 learners released at once, each POSTing its answers to
              /training/learn/attempts/<id>/answer/ as the page's script does (JSON, CSRF
              header), 5 questions, then every save once more (a retry after a lost
              connection, which must change nothing: "applied" false), each after a think
              time drawn uniformly in [0, 2 * --think] s (--think 0: all at once).
  compliance  GET /training/compliance/ as the CERT analyst (every agency) and
              GET /training/compliance/?organisation=<the 5,000> as that agency's admin,
              one after the other, --runs times each after one warm-up.

One JSON line per database is appended to bench/results/training_exam.jsonl.

Usage: python bench/training_exam.py [--learners 300] [--records 1000000] [--runs 20]
       [--think 5] [--db sqlite|postgres|both] [--skip ceiling]
"""

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "training_exam.jsonl"
PG_BENCH = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bulwark_bench_training"
)
KEEPALIVE_S = 4.0  # below gunicorn_conf's keepalive (5 s): a browser reconnects likewise


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


# --- Data (child process, Django set up on the bench database) ----------------------------

RECORDS_SQL = {
    # Per learner n and record k: this year and the one before alternately, two records
    # in three general, 0.0-1.8 h each varying by learner, so every standing occurs.
    "sqlite": """
        WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < %s - 1)
        INSERT INTO training_trainingrecord (learner_id, organisation_id, completed_on, year,
            hours, kind, title, provider, source, external_id, created_at)
        SELECT l.id, l.organisation_id,
               printf('%%04d-%%02d-01', %s - k.i %% 2, 1 + k.i %% 12), %s - k.i %% 2,
               ((l.id %% 10) * (k.i %% 3)) / 10.0,
               CASE WHEN (l.id + k.i) %% 3 = 0 THEN 'professional' ELSE 'general' END,
               'Bench course', '', 'import', '', CURRENT_TIMESTAMP
        FROM training_learner l CROSS JOIN k WHERE l.organisation_id = %s""",
    "postgresql": """
        INSERT INTO training_trainingrecord (learner_id, organisation_id, completed_on, year,
            hours, kind, title, provider, source, external_id, created_at)
        SELECT l.id, l.organisation_id, make_date(%s - k.i %% 2, 1 + k.i %% 12, 1),
               %s - k.i %% 2, ((l.id %% 10) * (k.i %% 3)) / 10.0,
               CASE WHEN (l.id + k.i) %% 3 = 0 THEN 'professional' ELSE 'general' END,
               'Bench course', '', 'import', '', now()
        FROM training_learner l CROSS JOIN generate_series(0, %s - 1) AS k(i)
        WHERE l.organisation_id = %s""",
}
TOTALS_SQL = """
    INSERT INTO training_hourstotal (learner_id, organisation_id, year, kind, hours)
    SELECT learner_id, organisation_id, year, kind, SUM(hours) FROM training_trainingrecord
    GROUP BY learner_id, organisation_id, year, kind"""


def setup(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bulwark.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("migrate", verbosity=0)
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from bulwark.constituency import services as cs
    from bulwark.constituency.models import Organisation, User
    from bulwark.training import services
    from bulwark.training.models import Learner

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

    # The exam takers: signed in through the learner sign-in page, an attempt each.
    takers = []
    for i in range(args.learners):
        learner = Learner(organisation=agencies[1], staff_id=f"S{i}", name=f"Learner {i}",
                          email=f"s{i}@bench.example", role="general")  # fmt: skip
        learner.set_password("learner-password")
        takers.append(learner)
    Learner.objects.bulk_create(takers)
    services.enrol(analyst, course, agencies[1], everyone=True)
    learners = []
    for learner in Learner.objects.filter(organisation=agencies[1]):
        client = Client()
        client.post("/training/learn/sign-in/", {"email": learner.email,
                                                 "password": "learner-password"})  # fmt: skip
        attempt = services.start_attempt(learner, exam)
        learners.append({"session": client.cookies["sessionid"].value, "attempt": attempt.pk,
                         "questions": attempt.question_ids})  # fmt: skip

    # The constituency: 20,000 learners, their records and yearly totals.
    sizes = [5000, 5000, 5000, 5000 - args.learners]
    year = date.today().year
    started = time.perf_counter()
    roles = ["security_staff", "it_staff", "general", "supervisor"]
    for org, size in zip(agencies, sizes, strict=True):
        Learner.objects.bulk_create([
            Learner(organisation=org, staff_id=f"{org.pk}-{i}", name=f"Staff {org.pk}-{i}",
                    email=f"{org.pk}-{i}@bench.example", role=roles[i % 4])
            for i in range(size)
        ], batch_size=2000)  # fmt: skip
    people = Learner.objects.count()
    per = max(1, args.records // people)
    with transaction.atomic(), connection.cursor() as cursor:
        for org in agencies:
            if connection.vendor == "sqlite":
                cursor.execute(RECORDS_SQL["sqlite"], [per, year, year, org.pk])
            else:
                cursor.execute(RECORDS_SQL["postgresql"], [year, year, per, org.pk])
        cursor.execute(TOTALS_SQL)
        cursor.execute("SELECT COUNT(*) FROM training_trainingrecord")
        made = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    fill_s = time.perf_counter() - started

    def staff_session(user: Any) -> str:
        client = Client()
        client.force_login(user)
        device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return str(session.session_key)

    return {"learners": learners, "year": year, "people": people, "records": made,
            "fill_s": round(fill_s, 1), "agency": agencies[0].pk,
            "cert_session": staff_session(analyst),
            "agency_session": staff_session(admin)}  # fmt: skip


# --- HTTP client ------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection, reopened when idle longer than the server keeps
    it (as a browser does)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last = 0.0
        self.retryable = False
        self.retries = 0

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        reused = self.writer is not None and time.monotonic() - self.last <= KEEPALIVE_S
        if not reused:
            await self._open()
        try:
            return await self._exchange(raw)
        except (ConnectionError, asyncio.IncompleteReadError):
            if not (reused and self.retryable):
                raise
        # The server closed the kept connection before answering anything (its keep-alive
        # ran out as the request left): a browser sends the request again on a new
        # connection (RFC 9112 9.3.1), and so does this client, once. A save is idempotent.
        self.retries += 1
        await self._open()
        return await self._exchange(raw)

    async def _open(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def _exchange(self, raw: bytes) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        self.retryable = True
        self.writer.write(raw)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            self.writer = None
            raise ConnectionError("closed by the server")
        self.retryable = False
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"connection" and value.strip().lower() == b"close":
                close = True
        body = await self.reader.readexactly(length)
        self.last = time.monotonic()
        if close:
            self.writer.close()
            self.writer = None
        return int(status_line.split()[1]), body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def get(path: str, session: str = "") -> bytes:
    cookie = f"Cookie: sessionid={session}\r\n" if session else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}\r\n".encode()


def post_json(path: str, session: str, csrf: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Cookie: sessionid={session}; csrftoken={csrf}\r\nX-CSRFToken: {csrf}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


async def learners_run(port: int, learners: list[dict[str, Any]], think: float,
                       saves: bool) -> dict[str, Any]:  # fmt: skip
    """Every learner at once: its answers twice (saves) or as many GET /health/ (ceiling),
    each after a think time."""
    latencies: list[float] = []
    errors: list[str] = []
    retries: list[int] = []
    start = asyncio.Event()

    async def one(learner: dict[str, Any]) -> None:
        conn = Connection(port)
        pause = random.Random(learner["attempt"])  # think time, not a secret
        csrf = secrets.token_hex(16)  # 32 characters, as Django's cookie holds
        url = f"/training/learn/attempts/{learner['attempt']}/answer/"
        await start.wait()
        try:
            for repeat in range(2):
                for revision, qid in enumerate(learner["questions"], start=1):
                    if think:
                        await asyncio.sleep(pause.uniform(0, 2 * think))
                    if saves:
                        body = {"question": qid, "chosen": ["a"], "revision": revision}
                        raw = post_json(url, learner["session"], csrf, body)
                    else:
                        raw = get("/health/")
                    began = time.perf_counter()
                    try:
                        status, body = await conn.request(raw)
                    except (ConnectionError, asyncio.IncompleteReadError) as exc:
                        errors.append(repr(exc))
                        retries.append(conn.retries)
                        conn = Connection(port)
                        continue
                    latencies.append((time.perf_counter() - began) * 1000)
                    if saves:
                        answer = json.loads(body) if status == 200 else {}
                        if status != 200 or answer.get("applied") is not (repeat == 0):
                            errors.append(f"{status} {body[:200]!r}")
                    elif status != 200:
                        errors.append(f"{status} {body[:200]!r}")
        finally:
            retries.append(conn.retries)
            conn.close()

    tasks = [asyncio.create_task(one(learner)) for learner in learners]
    await asyncio.sleep(0.5)  # every coroutine waiting at the start line
    wall = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - wall
    return {"requests": len(latencies), "errors": len(errors), "first_errors": errors[:3],
            "resent_after_keepalive_close": sum(retries),
            "p50_ms": round(percentile(latencies, 0.5), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "max_ms": round(max(latencies, default=0.0), 1), "wall_s": round(wall, 2),
            "per_s": round(len(latencies) / wall, 1)}  # fmt: skip


async def page_runs(port: int, path: str, session: str, runs: int) -> dict[str, Any]:
    conn = Connection(port)
    try:
        status, body = await conn.request(get(path, session))
        if status != 200:
            raise SystemExit(f"{path}: {status} {body[:300]!r}")
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            status, body = await conn.request(get(path, session))
            times.append((time.perf_counter() - began) * 1000)
            if status != 200:
                raise SystemExit(f"{path}: {status}")
    finally:
        conn.close()
    return {"p50_ms": round(percentile(times, 0.5), 1),
            "p95_ms": round(percentile(times, 0.95), 1), "bytes": len(body)}  # fmt: skip


def wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(3000):
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start listening within 5 minutes")


def run(db: str, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = tempfile.mkdtemp(prefix="bench-training-")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), BULWARK_DATA_DIR=data_dir,
               DJANGO_SETTINGS_MODULE="bulwark.settings", BULWARK_LOG_LEVEL="WARNING")  # fmt: skip
    if db == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{data_dir}/bench.sqlite3"
    else:
        import psycopg

        name = PG_BENCH.rsplit("/", 1)[1]
        with psycopg.connect(PG_BENCH.rsplit("/", 1)[0] + "/postgres", autocommit=True) as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            pg.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = PG_BENCH
    argv = [sys.executable, __file__, "--setup", "--learners", str(args.learners),
            "--records", str(args.records)]  # fmt: skip
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("DATA ")), None)
    if line is None:
        sys.stderr.write(out.stderr[-3000:])
        raise SystemExit(f"{db}: the set-up failed")
    info = json.loads(line[5:])
    print(f"{db}: {info['people']} learners, {info['records']} records, filled in "
          f"{info['fill_s']} s", flush=True)  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "python:bulwark.gunicorn_conf",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "bulwark.wsgi:application"],
        env=env, cwd=data_dir,
    )  # fmt: skip
    result: dict[str, Any] = {"server": "gunicorn -c python:bulwark.gunicorn_conf",
                              "learners_total": info["people"], "records": info["records"],
                              "fill_s": info["fill_s"]}  # fmt: skip
    load_before = os.getloadavg()[0]
    try:
        wait_for(port, server)
        takers = info["learners"]
        if "ceiling" not in args.skip:
            result["ceiling_health"] = asyncio.run(learners_run(port, takers, args.think, False))
            print("ceiling (GET /health/)", result["ceiling_health"], flush=True)
        if "saves" not in args.skip:
            saves = asyncio.run(learners_run(port, takers, args.think, True))
            result["saves"] = {"learners": len(takers), "think_s": args.think, **saves}
            print("saves", result["saves"], flush=True)
        if "compliance" not in args.skip:
            year = info["year"]
            cert_url = f"/training/compliance/?year={year}"
            result["compliance_cert_20000"] = asyncio.run(
                page_runs(port, cert_url, info["cert_session"], args.runs)
            )
            result["compliance_agency_5000"] = asyncio.run(page_runs(
                port, f"/training/compliance/?organisation={info['agency']}&year={year}",
                info["agency_session"], args.runs))  # fmt: skip
            print("compliance cert", result["compliance_cert_20000"],
                  "agency", result["compliance_agency_5000"], flush=True)  # fmt: skip
    finally:
        server.terminate()
        try:
            server.wait(timeout=45)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    result["load_average_before"] = round(load_before, 2)
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    return result


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
    parser.add_argument("--skip", action="append", default=[],
                        choices=["ceiling", "saves", "compliance"])  # fmt: skip
    parser.add_argument("--label", default="", help="free text stored with the result")
    parser.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        print("DATA " + json.dumps(setup(args)), flush=True)
        return
    for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        result = {"db": db, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "commit": git("rev-parse", "--short", "HEAD"),
                  "dirty": bool(git("status", "--porcelain", "--", "src")),
                  "label": args.label, "host": platform.node(), "cpus": os.cpu_count(),
                  **run(db, args)}  # fmt: skip
        print(json.dumps(result, indent=1))
        with RESULTS.open("a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
