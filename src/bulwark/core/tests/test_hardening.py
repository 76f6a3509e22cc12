"""Defect 9, hardening: CSP and Permissions-Policy on every page, no inline script or
style in the templates, HSTS preload only on request, a new session key with the second
factor, old sign-in failures purged, SQLite writers that queue instead of failing."""

import re
import runpy
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import run_queued_tasks, totp_code
from bulwark.constituency.models import LoginFailure, User

PACKAGE = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery 9"


def directives(header: str) -> dict[str, list[str]]:
    found = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            found[words[0]] = words[1:]
    return found


@pytest.mark.parametrize("path", ["/accounts/login/", "/health/", "/publications/", "/nowhere/"])
def test_every_response_has_a_strict_csp_and_permissions_policy(db: None, path: str) -> None:
    response = Client().get(path)
    csp = directives(response["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"]
    policy = response["Permissions-Policy"]
    assert "camera=()" in policy and "microphone=()" in policy and "geolocation=()" in policy


def test_signed_in_pages_have_the_csp(admin_client: Client) -> None:
    for path in ("/", "/organisations/", "/stats/"):
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on* event handler"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"<style", re.I), "<style> element"),
    (re.compile(r"\shx-on", re.I), "hx-on (needs eval)"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]
# Not web pages under the site's CSP: e-mail bodies (mail clients need inline styles)
# and the standalone annual report, which sends its own policy (no script at all); the
# training certificate is only ever rendered to PDF by WeasyPrint, never served as a page.
NOT_PAGES = {"email.html", "summary_email.html", "annual_report.html", "certificate_pdf.html"}
# Printed only (core.pdf): the shared PDF page and the drill and engagement reports.
NOT_PAGES |= {"pdf_document.html", "results_pdf.html", "engagement_pdf.html"}


def test_no_template_has_inline_script_or_style() -> None:
    offending = []
    for template in sorted(PACKAGE.glob("**/templates/**/*.html")):
        if template.name in NOT_PAGES:
            continue
        text = template.read_text()
        offending += [
            f"{template.relative_to(PACKAGE)}: {what}" for rx, what in INLINE if rx.search(text)
        ]
    assert offending == []


def test_annual_report_keeps_its_own_policy_without_scripts(admin_client: Client) -> None:
    response = admin_client.get("/stats/report/annual/?year=2025&lang=en")
    assert response.status_code == 200
    csp = directives(response["Content-Security-Policy"])
    assert csp["default-src"] == ["'none'"] and "script-src" not in csp


def load_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> dict[str, Any]:
    for name in ("BULWARK_HSTS_PRELOAD",):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BULWARK_DATA_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(PACKAGE / "settings.py"))


def test_hsts_preload_only_when_explicitly_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tls = load_settings(monkeypatch, tmp_path, BULWARK_TLS="1")
    assert tls["SECURE_HSTS_SECONDS"] > 0 and tls["SECURE_HSTS_PRELOAD"] is False
    # Not asking for preload is not a deploy-check warning (`bulwark check --deploy` exits 0).
    assert "security.W021" in tls["SILENCED_SYSTEM_CHECKS"]
    preload = load_settings(monkeypatch, tmp_path, BULWARK_TLS="1", BULWARK_HSTS_PRELOAD="1")
    assert preload["SECURE_HSTS_PRELOAD"] is True
    assert "security.W021" not in preload["SILENCED_SYSTEM_CHECKS"]


def test_second_factor_rotates_the_session_key(platform_admin: User) -> None:
    """Session fixation: a session key known before the second factor (planted or seen)
    must not become a verified session."""
    platform_admin.set_password(PASSWORD)
    platform_admin.save()
    device = TOTPDevice.objects.create(user=platform_admin, name="phone", confirmed=True)
    client = Client()
    client.post("/accounts/login/", {"username": platform_admin.username, "password": PASSWORD})
    before = client.cookies["sessionid"].value
    response = client.post("/accounts/otp/", {"token": totp_code(device)})
    assert response.status_code == 302 and response["Location"] == "/"
    after = client.cookies["sessionid"].value
    assert after != before
    assert client.get("/organisations/").status_code == 200
    # The key from before the second factor is worth nothing now.
    attacker = Client()
    attacker.cookies["sessionid"] = before
    assert attacker.get("/organisations/").status_code == 302


def test_enrolling_the_second_factor_rotates_the_session_key(platform_admin: User) -> None:
    platform_admin.set_password(PASSWORD)
    platform_admin.save()
    client = Client()
    client.post("/accounts/login/", {"username": platform_admin.username, "password": PASSWORD})
    client.get("/accounts/otp/setup/")
    before = client.cookies["sessionid"].value
    device = TOTPDevice.objects.get(user=platform_admin, confirmed=False)
    assert client.post("/accounts/otp/setup/", {"token": totp_code(device)}).status_code == 302
    assert client.cookies["sessionid"].value != before


def test_scheduler_purges_old_login_failures(db: None, settings: Any) -> None:
    from django.core.management import call_command

    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900
    old = LoginFailure.objects.create(username="guess", ip="192.0.2.1")
    LoginFailure.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(hours=1))
    recent = LoginFailure.objects.create(username="guess", ip="192.0.2.1")
    call_command("scheduler", "--once")
    run_queued_tasks()
    assert list(LoginFailure.objects.values_list("pk", flat=True)) == [recent.pk]


# --- SQLite: two writers at once ------------------------------------------------------------


def read_then_write(write: Any, rounds: int, errors: list[str]) -> None:
    for _ in range(rounds):
        try:
            write()
        except Exception as exc:  # what the test is about: "database is locked"
            errors.append(f"{type(exc).__name__}: {exc}")


def run_concurrently(target: Any) -> None:
    threads = [threading.Thread(target=target) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def test_sqlite_deferred_transactions_fail_under_concurrent_writers(tmp_path: Path) -> None:
    """The failure the settings prevent, shown with plain sqlite3: two transactions that
    read, then write, deadlock, and SQLite fails one at once, whatever the busy timeout."""
    path = tmp_path / "race.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("create table t (n integer)")
    errors: list[str] = []

    def writer() -> None:
        db = sqlite3.connect(path, timeout=20, isolation_level=None)

        def write() -> None:
            db.execute("BEGIN DEFERRED")
            try:
                db.execute("select count(*) from t").fetchone()
                time.sleep(0.005)
                db.execute("insert into t values (1)")
                db.execute("COMMIT")
            except sqlite3.OperationalError:
                db.execute("ROLLBACK")
                raise

        read_then_write(write, 40, errors)
        db.close()

    run_concurrently(writer)
    assert any("database is locked" in e for e in errors)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_queue_instead_of_failing() -> None:
    """The platform's own connections (web and worker): IMMEDIATE transactions and a busy
    timeout on SQLite, so the same read-then-write pattern from two threads all succeeds.
    (PostgreSQL runs it too: there it never failed.)"""
    if connection.vendor == "sqlite":
        options = django_settings.DATABASES["default"]["OPTIONS"]
        assert options["transaction_mode"] == "IMMEDIATE" and options["timeout"] >= 5
    errors: list[str] = []
    rounds = 40

    def writer() -> None:
        def write() -> None:
            with transaction.atomic():
                LoginFailure.objects.filter(username="race").count()
                time.sleep(0.005)
                LoginFailure.objects.create(username="race")

        try:
            read_then_write(write, rounds, errors)
        finally:
            connections.close_all()

    run_concurrently(writer)
    assert errors == []
    assert LoginFailure.objects.filter(username="race").count() == 2 * rounds
