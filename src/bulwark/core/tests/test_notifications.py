"""In-app notices: repeats grouped, filtering and clearing by kind, the daily digest."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from bulwark.conftest import run_queued_tasks, sign_in
from bulwark.constituency.models import User
from bulwark.constituency.tests.factories import UserFactory
from bulwark.core.models import AuditEntry, Notification, NotificationKind
from bulwark.core.services import mark_read, notify, send_digests, set_daily_digest

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice() -> User:
    return UserFactory(username="alice", email="alice@example.org")


@pytest.fixture
def bob() -> User:
    return UserFactory(username="bob", email="bob@example.org")


def overdue(user: User, n: int, subject: str = "advisory:1") -> None:
    for i in range(n):
        notify(
            [user],
            NotificationKind.ADVISORY_OVERDUE,
            f"OVERDUE: agency {i} has not answered",
            "/organisations/1/",
            subject=subject,
        )


def test_repeated_notices_about_one_object_are_one_row_with_a_count(alice: User) -> None:
    overdue(alice, 602)
    rows = list(Notification.objects.filter(user=alice))
    assert len(rows) == 1
    assert rows[0].count == 602
    assert rows[0].text == "OVERDUE: agency 601 has not answered"  # the latest one
    # Another object or another kind is its own row.
    overdue(alice, 1, subject="advisory:2")
    notify([alice], NotificationKind.ADVISORY, "New advisory", subject="advisory:1")
    assert Notification.objects.filter(user=alice).count() == 3
    # Once read, the next repeat is news again: a new unread row, the read one stays.
    mark_read(alice)
    overdue(alice, 1)
    unread = Notification.objects.filter(user=alice, read_at__isnull=True)
    assert [(n.subject, n.count) for n in unread] == [("advisory:1", 1)]
    assert Notification.objects.filter(user=alice, subject="advisory:1").count() == 3


def test_grouping_moves_the_row_to_the_latest_time(alice: User) -> None:
    overdue(alice, 1, subject="advisory:1")
    overdue(alice, 1, subject="advisory:2")
    overdue(alice, 1, subject="advisory:1")
    assert [n.subject for n in Notification.objects.filter(user=alice)] == [
        "advisory:1",
        "advisory:2",
    ]


def test_notices_without_a_subject_are_not_merged(alice: User) -> None:
    notify([alice], NotificationKind.OTHER, "one")
    notify([alice], NotificationKind.OTHER, "two")
    assert Notification.objects.filter(user=alice).count() == 2


def test_page_filters_and_clears_by_kind(client: Client, alice: User, bob: User) -> None:
    overdue(alice, 3)
    notify([alice], NotificationKind.CLOCK_REMINDER, "Reminder: INC-1 review", subject="incident:1")
    notify([bob], NotificationKind.CLOCK_REMINDER, "Reminder: INC-9 of bob", subject="incident:9")
    web = sign_in(client, alice)
    page = web.get("/notifications/").content.decode()
    assert "OVERDUE: agency 2" in page and "Reminder: INC-1" in page
    assert "3 times" in page
    assert "INC-9" not in page  # someone else's
    only = web.get("/notifications/?kind=clock_reminder").content.decode()
    assert "Reminder: INC-1" in only and "OVERDUE" not in only
    # Unknown kinds are ignored rather than failing.
    assert web.get("/notifications/?kind=nonsense").status_code == 200
    # Clear one kind: the other stays unread, and Bob's reminder is untouched.
    web.post("/notifications/?kind=clock_reminder", {"kind": "clock_reminder"})
    unread = Notification.objects.filter(read_at__isnull=True)
    assert set(unread.values_list("user__username", "kind")) == {
        ("alice", "advisory_overdue"),
        ("bob", "clock_reminder"),
    }
    badge = web.get("/").content.decode()
    assert 'id="notifications">Notifications <span class="badge warn">1</span>' in badge


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    today = timezone.localtime().replace(hour=hour, minute=minute, second=0, microsecond=0)
    return today + timedelta(days=1)


def arrived(user: User, at: datetime) -> None:
    """Date the person's latest notice (notices are stamped with the real clock)."""
    latest = Notification.objects.filter(user=user).order_by("-pk").first()
    assert latest is not None
    Notification.objects.filter(pk=latest.pk).update(at=at)


def test_daily_digest_is_a_preference_sent_once_a_day(
    client: Client, alice: User, bob: User, settings: Any
) -> None:
    settings.SITE_URL = "https://cert.example.tw"
    web = sign_in(client, alice)
    web.post("/notifications/", {"action": "digest", "daily_digest": "on"})
    alice.refresh_from_db()
    assert alice.notification_settings.daily_digest
    assert AuditEntry.objects.filter(action="notifications.digest_changed").count() == 1
    overdue(alice, 5)
    notify([bob], NotificationKind.OTHER, "bob's private notice")  # bob did not ask
    morning = tomorrow_at(7, 30)
    assert send_digests(now=morning) == 1
    run_queued_tasks()
    assert [m.to for m in mail.outbox] == [["alice@example.org"]]
    body = mail.outbox[0].body
    assert "OVERDUE: agency 4 has not answered (x5)" in body
    assert "https://cert.example.tw/organisations/1/" in body
    assert "bob" not in body
    # The same day again (a second scheduler, a later run): nothing more.
    assert send_digests(now=morning + timedelta(hours=3)) == 0
    # Next morning with nothing new unread since: no empty e-mail.
    assert send_digests(now=morning + timedelta(days=1)) == 0
    # A notice after that digest is in the next one...
    overdue(alice, 1, subject="advisory:7")
    arrived(alice, morning + timedelta(days=1, hours=2))
    assert send_digests(now=morning + timedelta(days=2)) == 1
    # ...unless the person turned the digest off.
    web.post("/notifications/", {"action": "digest"})
    overdue(alice, 1, subject="advisory:8")
    arrived(alice, morning + timedelta(days=2, hours=2))
    assert send_digests(now=morning + timedelta(days=3)) == 0


def test_digest_waits_for_the_morning(alice: User) -> None:
    set_daily_digest(alice, True)
    overdue(alice, 1)
    early = tomorrow_at(6, 59)
    assert send_digests(now=early) == 1  # the first: due since this morning's 07:00
    overdue(alice, 1, subject="advisory:3")
    arrived(alice, early + timedelta(seconds=30))
    assert send_digests(now=tomorrow_at(6, 59) + timedelta(seconds=50)) == 0  # not yet 07:00
    assert send_digests(now=tomorrow_at(7, 0)) == 1
    overdue(alice, 1, subject="advisory:4")
    arrived(alice, tomorrow_at(8))
    assert send_digests(now=tomorrow_at(23)) == 0  # one a day
    assert send_digests(now=tomorrow_at(7) + timedelta(days=1)) == 1
