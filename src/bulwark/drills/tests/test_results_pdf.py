"""Each agency's campaign results report (PDF, English and Traditional Chinese), read back
as text: its human rates against the targets, pass or fail, repeat clickers, time to
first report, the previous campaign and the improvement plan; and who may download it
(the agency its own, the authority its agencies', the CERT any, nobody else)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bulwark.conftest import sign_in
from bulwark.core.tests.pdftext import pdf_text
from bulwark.drills import report_pdf, services
from bulwark.drills.models import Campaign, DrillEvent, EventKind, Recipient
from bulwark.drills.tests.world import World

# Who may download Bureau's report.
MAY = {
    "analyst": True,
    "reviewer": True,  # the Ministry supervises Bureau
    "bureau_admin": True,
    "bureau_reporter": True,
    "office_admin": False,  # a sibling agency under the same authority
    "grid_admin": False,
    "nobody": False,
}


def _event(recipient: Recipient, kind: str, after: timedelta, automated: str = "") -> None:
    assert recipient.sent_at is not None
    DrillEvent.objects.create(
        recipient=recipient, campaign_id=recipient.campaign_id, kind=kind,
        at=recipient.sent_at + after, automated=automated,
    )  # fmt: skip
    services.roll_up([recipient.pk])  # the outcome columns the results read, as a hit keeps them


def _held(world: World, name: str, previous: Campaign | None = None) -> Campaign:
    campaign = world.launched(name, previous=previous)
    sent = timezone.now() - timedelta(days=2)
    for r in campaign.recipients.all():
        services.record_outcome(r, at=sent)
    return campaign


@pytest.fixture
def autumn(world: World) -> Campaign:
    """Spring: Alice clicks. Autumn (compared with spring): Alice clicks again, Bo reports
    two hours after delivery, a scanner clicks Carol's link; Bureau fails its targets."""
    spring = _held(world, "Spring drill")
    alice = spring.recipients.get(email="alice@bureau.example.org")
    _event(alice, EventKind.CLICKED, timedelta(minutes=30))
    services.finish(world.analyst, spring)
    autumn = _held(world, "Autumn drill", previous=spring)
    people = {r.email.split("@")[0]: r for r in autumn.recipients.all()}
    _event(people["alice"], EventKind.OPENED, timedelta(minutes=10))
    _event(people["alice"], EventKind.CLICKED, timedelta(minutes=11))
    _event(people["bo"], EventKind.REPORTED, timedelta(hours=2))
    _event(people["carol"], EventKind.CLICKED, timedelta(seconds=2), automated="scanner agent")
    return services.finish(world.analyst, autumn)


def test_the_agency_report_says_what_the_agency_needs(world: World, autumn: Campaign) -> None:
    text = pdf_text(report_pdf.render(autumn, world.bureau.pk, world.bureau_admin, "en"))
    assert "Drill results: Bureau" in text and "Autumn drill" in text
    assert "Failed: a rate is at or above the campaign's target." in text
    # Bureau: 2 delivered, Alice opened and clicked (50 %), Bo reported (50 %); targets.
    assert "Open rate 50.0 % < 10.00 % failed" in text
    assert "Click rate 50.0 % < 6.00 % failed" in text
    assert "Report rate 50.0 %" in text
    # Spring: Alice clicked, nobody opened as counted (a click counts as an open).
    assert "Click rate 50.0 % < 6.00 % failed 50.0 % +0.0" in text
    assert "Previous campaign: Spring drill" in text
    assert "Repeat clickers 1" in text
    assert "Time to first report 2 h 00 min" in text
    assert "Improvement plan" in text and "State Required" in text
    # Only Bureau's figures: the scanner's click on Carol's (Office) link is not here.
    assert "Office" not in text and "Grid Co" not in text
    assert "0 automated events" in text


def test_the_report_in_traditional_chinese(world: World, autumn: Campaign) -> None:
    text = pdf_text(report_pdf.render(autumn, world.bureau.pk, world.analyst, "zh-Hant"))
    with translation.override("zh-hant"):
        title = _("Drill results: %(agency)s") % {"agency": "Bureau"}
        failed = _("Failed: a rate is at or above the campaign's target.")
        report_rate = _("Report rate")
    assert title != "Drill results: Bureau" and title in text
    assert failed in text and report_rate in text
    assert "Drill results" not in text


@pytest.mark.parametrize("who", list(MAY))
def test_who_may_download_bureau_s_report(
    world: World, autumn: Campaign, client: Client, who: str
) -> None:
    sign_in(client, getattr(world, who))
    response = client.get(f"/drills/{autumn.pk}/report/{world.bureau.pk}.pdf?lang=en")
    if MAY[who]:
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert "Drill results: Bureau" in pdf_text(response.content)
    else:
        assert response.status_code == 404


def test_an_agency_is_refused_another_agency_s_report(
    world: World, autumn: Campaign, client: Client
) -> None:
    sign_in(client, world.bureau_admin)
    assert client.get(f"/drills/{autumn.pk}/report/{world.grid.pk}.pdf").status_code == 404
    assert client.get(f"/drills/{autumn.pk}/report/{world.office.pk}.pdf").status_code == 404
    # A non-participant organisation (the authority itself) has no report either.
    sign_in(client, world.analyst)
    assert client.get(f"/drills/{autumn.pk}/report/{world.ministry.pk}.pdf").status_code == 404
    bad = client.get(f"/drills/{autumn.pk}/report/{world.bureau.pk}.pdf?lang=klingon")
    assert bad.status_code == 400 and b"en or zh-Hant" in bad.content


def test_the_campaign_page_links_each_visible_agency_s_report(
    world: World, autumn: Campaign, client: Client
) -> None:
    sign_in(client, world.reviewer)
    page = client.get(f"/drills/{autumn.pk}/").content.decode()
    assert f"/drills/{autumn.pk}/report/{world.bureau.pk}.pdf?lang=zh-Hant" in page
    assert f"/drills/{autumn.pk}/report/{world.office.pk}.pdf?lang=en" in page
    assert f"/drills/{autumn.pk}/report/{world.grid.pk}.pdf" not in page


def test_the_results_page_counts_and_pages_the_repeat_clickers(
    world: World, autumn: Campaign, client: Client
) -> None:
    sign_in(client, world.analyst)
    page = client.get(f"/drills/{autumn.pk}/").content.decode()
    assert "1 person clicked in this and an earlier campaign." in page
    assert "alice@bureau.example.org" in page
    # A page number that is no number, or past the end, shows a page: never a 500.
    for bad in ("x", "99", "-1"):
        reply = client.get(f"/drills/{autumn.pk}/?page={bad}")
        assert reply.status_code == 200 and "alice@bureau.example.org" in reply.content.decode()
    # An agency that had no repeat clicker (Office) sees none of Bureau's.
    client.logout()
    sign_in(client, world.office_admin)
    office = client.get(f"/drills/{autumn.pk}/").content.decode()
    assert "Nobody clicked in this and an earlier campaign." in office
    assert "alice@" not in office
