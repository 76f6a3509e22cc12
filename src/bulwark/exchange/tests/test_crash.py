"""Kill a real worker process mid-batch with SIGKILL, run it again, and get exactly the
events, quarantine, counts and e-mails of a run that was never interrupted."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from bulwark.constituency.models import Contact
from bulwark.exchange import services
from bulwark.exchange.models import Event, EventNotice, Quarantined, Report
from bulwark.exchange.tests.test_notify import Inbox, free_port

HEADER = (
    '"timestamp","ip","protocol","port","hostname","tag","asn","geo","region","city",'
    '"naics","sic","version","clock","stratum","system"\n'
)


def generate(path: Path, lines: int) -> None:
    """Taipower's /22 (1,024 addresses, so later lines repeat earlier ones: duplicates),
    unclaimed home addresses (unrouted), Japanese ones, and a broken line every 997."""
    with path.open("w") as out:
        out.write(HEADER)
        for i in range(lines):
            if i % 997 == 0:
                out.write(f'"2026-11-20 01:00:00","198.18.12.{i % 300 + 256}","udp",123\n')
                continue
            if i % 3 == 0:
                ip, geo = f"198.18.{12 + (i >> 8) % 4}.{i & 255}", "TW"
            elif i % 3 == 1:
                ip, geo = f"100.64.{(i >> 8) & 255}.{i & 255}", "TW"
            else:
                ip, geo = f"192.0.2.{i & 255}", "JP"
            out.write(
                f'"2026-11-20 01:{i % 60:02d}:00","{ip}","udp",123,,"ntp",0,"{geo}",'
                f'"X","X",0,0,"4","0x0",2,"UNIX"\n'
            )


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER']}@{host}:{port}/{db['NAME']}"


def worker(path: Path, media: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": database_url(), "BULWARK_MEDIA_DIR": str(media)}
    return subprocess.Popen(
        [sys.executable, "-m", "bulwark.cli", "exchange", "ingest", str(path),
         "--batch", "200", "--quiet"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def state() -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    events = set(Event.objects.values_list("dedupe_key", "record_no", "recipient_id", "route_via"))
    quarantined = set(Quarantined.objects.values_list("record_no", "reason"))
    return events, quarantined


def mails(now: Any, settings: Any) -> list[tuple[Any, ...]]:
    """Gather and send the notifications over real SMTP; what each recipient received."""
    inbox = Inbox()
    port = free_port()
    from aiosmtpd.controller import Controller

    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    try:
        services.queue_notices(now)
        services.send_due_notices(now)
    finally:
        controller.stop()
    import email
    import email.policy

    sent = []
    for envelope in inbox.messages:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        attachments = tuple(sorted(p.get_payload(decode=True) for p in message.iter_attachments()))
        sent.append((tuple(envelope.rcpt_tos), message["Subject"], attachments))
    return sorted(sent)


def summary(output: str) -> str:
    match = re.search(r"read \d+ .* rejected \d+", output)
    assert match, output
    return match.group(0)


@pytest.mark.django_db(transaction=True)
def test_sigkill_mid_batch_then_rerun_gives_the_uninterrupted_result(
    constituency: Any, tmp_path: Path, settings: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    for short, address in [("Taipower", "abuse@taipower.example"), ("JPCERT/CC", "c@jp.example")]:
        Contact.objects.create(organisation=constituency[short], purpose="abuse", email=address)
    now = __import__("django.utils.timezone", fromlist=["now"]).now()
    report_file = tmp_path / "2026-11-20-scan_ntp-taiwan-geo.csv"
    generate(report_file, 12_000)

    # 1. A run that is killed once some batches are committed.
    process = worker(report_file, settings.MEDIA_ROOT)
    deadline = time.monotonic() + 60
    while Event.objects.count() < 600 and process.poll() is None:
        assert time.monotonic() < deadline, "the worker stored nothing"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    report = Report.objects.get()
    partial = Event.objects.count()
    assert report.status == "processing", "the worker finished before it could be killed"

    # 2. Run again: the report resumes.
    rerun = worker(report_file, settings.MEDIA_ROOT)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    resumed_counts = summary(out)
    resumed_state = state()
    assert Event.objects.count() > partial
    resumed_mails = mails(now, settings)
    assert [m[0] for m in resumed_mails] == [("abuse@taipower.example",), ("c@jp.example",)]

    # 3. The same file, uninterrupted, into an empty store.
    EventNotice.objects.all().delete()
    Event.objects.all().delete()
    Quarantined.objects.all().delete()
    Report.objects.all().delete()
    clean = worker(report_file, settings.MEDIA_ROOT)
    out, err = clean.communicate(timeout=120)
    assert clean.returncode == 0, err
    assert summary(out) == resumed_counts
    assert state() == resumed_state
    assert (
        mails(now, settings) == resumed_mails
    )  # the same e-mails, byte for byte in their contents
    assert Report.objects.get().counts["rejected"] == 13  # lines 0, 997, ... 11964
