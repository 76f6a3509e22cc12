"""Scheduled summaries over a real SMTP conversation: each subscriber gets the figures as
they may see them, once per period, and a refused message is retried."""

from datetime import date
from typing import Any

import pytest
from django.utils import translation

from bulwark.advisories.tests.conftest import Inbox, smtp  # noqa: F401 (the real SMTP fixture)
from bulwark.analytics import figures, services, summaries
from bulwark.analytics.models import Subscription
from bulwark.analytics.periods import parse
from bulwark.analytics.tests.dataset import Dataset, build
from bulwark.core.models import AuditEntry

TODAY = date(2025, 7, 3)  # the monthly summary is June's, the quarterly one Q2's


@pytest.fixture
def data(db: Any) -> Dataset:
    return build(incidents=120, events=40, items=30)


def test_due_periods() -> None:
    assert summaries.due_period("monthly", TODAY).label == "2025-06"
    assert summaries.due_period("quarterly", TODAY).label == "2025-Q2"
    assert summaries.due_period("monthly", date(2025, 1, 15)).label == "2024-12"
    assert summaries.due_period("quarterly", date(2025, 2, 1)).label == "2024-Q4"
    with pytest.raises(ValueError):
        summaries.due_period("hourly", TODAY)


def total_line(body: str, title: str) -> list[str]:
    """The table lines under a title in the text part."""
    block = body.split(f"== {title} ==", 1)[1].split("\n== ", 1)[0]
    return [line for line in block.strip().splitlines()[1:] if "|" in line]


def test_each_subscriber_gets_what_they_may_see_once(
    smtp: Inbox,  # noqa: F811
    data: Dataset,
) -> None:
    Subscription.objects.create(user=data.duty, cadence="quarterly")
    Subscription.objects.create(user=data.reviewer, cadence="quarterly", language="zh-hant")
    Subscription.objects.create(user=data.reporter, cadence="monthly", active=False)

    assert services.send_due_summaries(TODAY) == 2
    messages = {m["To"]: m for m in smtp.parsed()}
    assert set(messages) == {data.duty.email, data.reviewer.email}
    cert_mail = messages[data.duty.email]
    assert "2025-Q2" in cert_mail["Subject"]
    text = cert_mail.get_body(("plain",)).get_content()
    html = cert_mail.get_body(("html",)).get_content()

    period = parse("2025-Q2")
    for user, message in ((data.duty, cert_mail), (data.reviewer, messages[data.reviewer.email])):
        body = message.get_body(("plain",)).get_content()
        language = "zh-hant" if user is data.reviewer else "en"  # the reviewer reads Chinese
        with translation.override(language):
            level = figures.compute("incidents_by_level", user, period)
            lines = total_line(body, str(figures.DASHBOARDS["incidents_by_level"].title))
        assert [line.split(" | ")[1] for line in lines] == [str(row[1]) for row in level.rows]
    cert_total = figures.compute("incidents_by_level", data.duty, period).total
    authority_total = figures.compute("incidents_by_level", data.reviewer, period).total
    assert authority_total < cert_total
    assert "<table" in html
    # The authority's summary names no other authority's figures; the CERT's does.
    reviewer_text = messages[data.reviewer.email].get_body(("plain",)).get_content()
    assert "Ministry B" in text and "Ministry B" not in reviewer_text
    assert text.count("==") >= 2 * len(summaries.SUMMARY_FIGURES)

    # Nothing more until the next period.
    assert services.send_due_summaries(TODAY) == 0
    assert len(smtp.messages) == 2
    assert services.send_due_summaries(date(2025, 10, 2)) == 2  # Q3 is due


def test_a_refused_message_is_retried_next_time(smtp: Inbox, data: Dataset) -> None:  # noqa: F811
    Subscription.objects.create(user=data.reviewer, cadence="monthly")
    smtp.refuse.add(data.reviewer.email)
    assert services.send_due_summaries(TODAY) == 0
    assert Subscription.objects.get(user=data.reviewer).last_period == ""
    smtp.refuse.clear()
    assert services.send_due_summaries(TODAY) == 1
    sub = Subscription.objects.get(user=data.reviewer)
    assert sub.last_period == "2025-06" and sub.last_sent_at is not None


def test_subscribing_from_the_page(client: Any, data: Dataset) -> None:
    client.force_login(data.reporter)
    response = client.post("/stats/subscription/", {"cadence": "monthly", "language": "en"})
    assert response.status_code == 302
    assert Subscription.objects.get(user=data.reporter).active
    assert client.post("/stats/subscription/", {"cadence": "hourly"}).status_code == 400
    assert (
        client.post("/stats/subscription/", {"cadence": "monthly", "language": "xx"}).status_code
        == 400
    )
    client.post("/stats/subscription/", {"cadence": "monthly", "action": "stop"})
    assert not Subscription.objects.get(user=data.reporter).active
    # Both are the person's own decisions, so both are in the audit log under their name.
    assert list(
        AuditEntry.objects.filter(actor_id=data.reporter.pk, action__startswith="stats.")
        .order_by("seq")
        .values_list("action", flat=True)
    ) == ["stats.subscribed", "stats.unsubscribed"]
    assert client.get("/stats/subscription/").status_code == 405
