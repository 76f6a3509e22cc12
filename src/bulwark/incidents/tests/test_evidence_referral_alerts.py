"""Evidence with a chain of custody, signed referrals that verify offline, and clock
reminders / escalations by e-mail and in the app."""

import io
import json
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from bulwark.conftest import run_queued_tasks, sign_in
from bulwark.constituency import services as cs
from bulwark.constituency.models import User
from bulwark.core.models import AuditEntry, Notification
from bulwark.incidents import package, referrals, services
from bulwark.incidents.evidence import display_name, storage
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import ClockAlert, CustodyEvent, Evidence, Incident
from bulwark.incidents.services import add_evidence, report_incident
from bulwark.incidents.tests.test_journey import People


@pytest.fixture(autouse=True)
def _private_files(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.SIGNING_KEY_FILE = tmp_path / "signing-key.pem"


@pytest.fixture
def people(db: None) -> People:
    return People()


@pytest.fixture
def incident(people: People) -> Incident:
    return report_incident(
        User.objects.get(username="reporter"), people.agency, title="Intrusion", description="d",
        rsit_class="intrusions", rsit_type="system-compromise", answers=Answers(integrity="minor"),
        aware_at=timezone.now() - timedelta(minutes=10),
    )  # fmt: skip


def web(username: str) -> Client:
    return sign_in(Client(), User.objects.get(username=username))


def upload(client: Client, incident: Incident, name: str, data: bytes) -> Any:
    return client.post(
        f"/incidents/{incident.pk}/evidence/",
        {"evidence-file": SimpleUploadedFile(name, data), "evidence-description": "pcap"},
    )


def test_evidence_is_stored_by_hash_with_custody(incident: Incident) -> None:
    client = web("reporter")
    data = b"\x00packet capture\xff" * 1000
    assert upload(client, incident, "capture.pcap", data).status_code == 302
    item = Evidence.objects.get()
    import hashlib

    assert item.sha256 == hashlib.sha256(data).hexdigest() and item.size == len(data)
    assert storage().path(item.storage_name).endswith(item.sha256)
    download = client.get(f"/incidents/{incident.pk}/evidence/{item.pk}/download/")
    assert b"".join(download.streaming_content) == data
    assert 'filename="capture.pcap"' in download["Content-Disposition"]
    client.post(f"/incidents/{incident.pk}/evidence/{item.pk}/verify/")
    actions = list(CustodyEvent.objects.filter(evidence=item).values_list("action", flat=True))
    assert actions == ["uploaded", "downloaded", "verified"]
    assert AuditEntry.objects.filter(action="evidence.downloaded").count() == 1
    # The same bytes again: a second record, one stored copy.
    upload(client, incident, "copy.pcap", data)
    assert Evidence.objects.count() == 2
    assert len(list((Path(storage().location) / "evidence" / item.sha256[:2]).iterdir())) == 1


def test_tampered_file_is_detected(incident: Incident) -> None:
    reporter = User.objects.get(username="reporter")
    item = add_evidence(reporter, incident, SimpleUploadedFile("a.log", b"original"))
    path = Path(storage().path(item.storage_name))
    path.chmod(0o640)
    path.write_bytes(b"changed!")
    response = web("reporter").post(
        f"/incidents/{incident.pk}/evidence/{item.pk}/verify/", follow=True
    )
    assert "does NOT match" in response.content.decode()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("evil\x00.pdf", "evil.pdf"),
        ("/absolute/path/report.docx", "report.docx"),
        ("..", "unnamed"),
        ("x" * 400 + ".txt", "x" * 255),
    ],
)
def test_path_tricks_in_names_never_reach_the_file_system(
    incident: Incident, raw: str, shown: str
) -> None:
    assert display_name(raw) == shown
    reporter = User.objects.get(username="reporter")
    raw_upload = io.BytesIO(b"data")
    raw_upload.name = raw  # as an API client could send it, unsanitised
    item = add_evidence(reporter, incident, raw_upload)
    assert item.original_name == shown
    assert not any(ch in item.original_name for ch in "/\\\x00")
    assert (
        Path(storage().path(item.storage_name))
        .resolve()
        .is_relative_to(Path(storage().location).resolve())
    )


def test_oversized_and_empty_evidence_is_refused(incident: Incident, settings: Any) -> None:
    settings.MAX_EVIDENCE_BYTES = 1000
    client = web("reporter")
    too_big = upload(client, incident, "big.bin", b"x" * 5000)
    assert too_big.status_code == 413
    empty = upload(client, incident, "empty.bin", b"")
    assert empty.status_code == 400
    assert Evidence.objects.count() == 0


def test_path_trick_through_a_real_multipart_upload(incident: Incident) -> None:
    client = web("reporter")
    assert upload(client, incident, "../../../../etc/cron.d/evil", b"payload").status_code == 302
    item = Evidence.objects.get()
    assert item.original_name == "evil"
    assert not Path("/etc/cron.d/evil").exists()


def test_outsider_cannot_touch_evidence(people: People, incident: Incident) -> None:
    reporter = User.objects.get(username="reporter")
    item = add_evidence(reporter, incident, SimpleUploadedFile("a.log", b"secret"))
    outsider = web("outsider")
    assert outsider.get(f"/incidents/{incident.pk}/evidence/{item.pk}/download/").status_code == 404
    assert upload(outsider, incident, "x.bin", b"x").status_code == 404


def test_referral_package_is_signed_and_verifies_offline(
    people: People, incident: Incident, tmp_path: Path
) -> None:
    reporter = User.objects.get(username="reporter")
    add_evidence(reporter, incident, SimpleUploadedFile("disk.img", b"image bytes" * 100))
    lea = cs.create_organisation(
        None, name="Criminal Investigation Bureau", kind="lea", country="TW"
    )
    detective = cs.create_user(None, username="detective", email="d@cib.example")
    cs.add_membership(None, detective, lea, "reporter")
    # Before referral the LEA sees nothing; the reporter may not refer.
    assert web("detective").get(f"/incidents/{incident.pk}/").status_code == 404
    assert (
        web("reporter")
        .post(f"/incidents/{incident.pk}/referrals/", {"referral-organisation": lea.pk})
        .status_code
        == 403
    )
    done = web("duty").post(
        f"/incidents/{incident.pk}/referrals/",
        {"referral-organisation": lea.pk, "referral-note": "Extortion."},
    )
    assert done.status_code == 302
    referral = incident.referrals.get()
    # Now the LEA sees the case and downloads the package.
    detective_client = web("detective")
    assert detective_client.get(f"/incidents/{incident.pk}/").status_code == 200
    data = detective_client.get(
        f"/incidents/{incident.pk}/referrals/{referral.pk}/package/"
    ).content
    key = package.public_pem(referrals.signing_key())
    assert package.verify(data, key) == []
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert {"manifest.json", "manifest.sig", "signer.pub.pem"} <= set(names)
    # Offline, in a separate Python with only the package module: OK, then tampering fails.
    path, key_path = tmp_path / "case.zip", tmp_path / "cert.pub.pem"
    path.write_bytes(data)
    key_path.write_bytes(key)
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "bulwark.incidents.package",
            "verify",
            str(path),
            "--key",
            str(key_path),
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and ok.stdout.startswith("OK: INC-"), ok.stdout + ok.stderr
    tampered = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(tampered, "w") as dst:
        for name in src.namelist():
            body = src.read(name)
            if name == "manifest.json":
                manifest = json.loads(body)
                manifest["incident"]["title"] = "Nothing happened"
                body = json.dumps(manifest).encode()
            dst.writestr(name, body)
    assert "signature does not match" in package.verify(tampered.getvalue(), key)[0]
    other_key = package.public_pem(
        __import__(
            "cryptography.hazmat.primitives.asymmetric.ed25519", fromlist=["x"]
        ).Ed25519PrivateKey.generate()
    )
    assert any("different key" in p for p in package.verify(data, other_key))
    assert package.verify(b"not a zip", key) == ["not a zip file"]


def test_reminders_and_escalations_reach_the_right_people(
    people: People, incident: Incident, django_capture_on_commit_callbacks: Any
) -> None:
    # Level 1: the review is due 8 h after the report. 7 h in: a reminder to the reviewer.
    with django_capture_on_commit_callbacks(execute=True):
        sent = services.check_clocks(now=incident.reported_at + timedelta(hours=7))
    assert sent["reminder"] >= 1
    reviewer = User.objects.get(username="reviewer")
    assert Notification.objects.filter(user=reviewer, text__startswith="Reminder").exists()
    run_queued_tasks()
    assert any("reviewer@example.org" in m.to for m in mail.outbox)
    # Running again sends nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        again = services.check_clocks(now=incident.reported_at + timedelta(hours=7, minutes=5))
    assert again == {"reminder": 0, "escalation": 0}
    # 9 h in: overdue, escalated to the CERT duty officers too.
    with django_capture_on_commit_callbacks(execute=True):
        later = services.check_clocks(now=incident.reported_at + timedelta(hours=9))
    assert later["escalation"] >= 1
    duty = User.objects.get(username="duty")
    assert Notification.objects.filter(user=duty, text__startswith="OVERDUE").exists()
    assert not Notification.objects.filter(user=User.objects.get(username="outsider")).exists()
    assert ClockAlert.objects.filter(kind="escalation", clock="review").count() == 1


def test_scheduler_enqueues_the_periodic_tasks(db: None) -> None:
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    call_command("scheduler", "--once")
    assert set(DBTaskResult.objects.values_list("task_path", flat=True)) == {
        "bulwark.incidents.tasks.check_clocks",
        "bulwark.exchange.tasks.exchange_cycle",
        "bulwark.advisories.tasks.follow_up",
        "bulwark.analytics.tasks.send_summaries",
        "bulwark.analytics.tasks.refresh_snapshots",
        "bulwark.core.tasks.checkpoint_audit",
        "bulwark.core.tasks.send_notification_digests",
        "bulwark.constituency.tasks.purge_login_failures",
        "bulwark.monitoring.tasks.detect_behaviour",
        "bulwark.drills.tasks.send_due",
        "bulwark.training.tasks.close_expired_attempts",
        "bulwark.findings.tasks.check_deadlines",
    }
    assert run_queued_tasks() == 12


def test_notifications_page_shows_only_your_own_and_marks_read(
    people: People, incident: Incident
) -> None:
    services.check_clocks(now=incident.reported_at + timedelta(hours=9))
    reviewer = web("reviewer")
    page = reviewer.get("/notifications/").content.decode()
    assert "OVERDUE" in page and incident.reference in page
    assert (
        'id="notifications">Notifications <span class="badge warn">'
        in reviewer.get("/").content.decode()
    )
    assert "OVERDUE" not in web("outsider").get("/notifications/").content.decode()
    reviewer.post("/notifications/")
    assert not Notification.objects.filter(user__username="reviewer", read_at__isnull=True).exists()


def test_alerts_respect_tlp(people: People) -> None:
    colleague = cs.create_user(None, username="colleague", email="colleague@example.org")
    cs.add_membership(None, colleague, people.agency, "reporter")
    red = report_incident(
        User.objects.get(username="reporter"), people.agency, title="Red case", description="d",
        rsit_class="other", rsit_type="other", answers=Answers(), tlp="red",
        aware_at=timezone.now() - timedelta(minutes=5),
    )  # fmt: skip
    # Recovery (72 h) is the agency's clock: 80 h in, it is overdue.
    services.check_clocks(now=red.aware_at + timedelta(hours=80))
    told = set(
        Notification.objects.filter(text__contains=red.reference).values_list(
            "user__username", flat=True
        )
    )
    assert "reporter" in told and "duty" in told
    assert "colleague" not in told


def test_escalation_mail_goes_over_real_smtp(
    people: People, incident: Incident, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from aiosmtpd.controller import Controller

    from bulwark.constituency.tests.test_auth import _Inbox, free_port

    inbox, port = _Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        with django_capture_on_commit_callbacks(execute=True):
            services.check_clocks(now=incident.reported_at + timedelta(hours=9))
        run_queued_tasks()
    finally:
        controller.stop()
    recipients = {r for envelope in inbox.messages for r in envelope.rcpt_tos}
    assert {"reviewer@example.org", "duty@example.org"} <= recipients
    assert "outsider@example.org" not in recipients
    assert any(
        incident.reference.encode() in e.content and b"OVERDUE" in e.content for e in inbox.messages
    )
