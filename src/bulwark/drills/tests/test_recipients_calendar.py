"""Recipients (CSV import with per-row errors, an agency's staff list), the pages that
build a campaign, and the compliance calendar."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from bulwark.conftest import sign_in
from bulwark.core.models import Notification
from bulwark.drills import calendar, services
from bulwark.drills.models import Campaign, Recipient
from bulwark.drills.tests.world import CSV, World, at

BAD = """email,organisation,name,language
alice@bureau.example.org,Bureau,Alice,en
not-an-address,Bureau,X,en
bob@elsewhere.example.org,Nowhere Agency,Bob,en
alice@bureau.example.org,Bureau,Alice again,en
eve@bureau.example.org,Bureau,Eve,fr
"""


def test_csv_import_reports_every_bad_row_and_adds_nothing(world: World) -> None:
    campaign = world.campaign()
    result = services.import_recipients(world.analyst, campaign, BAD)
    assert result.added == 0
    assert [line for line, _ in result.errors] == [3, 4, 5, 6]
    text = dict(result.errors)
    assert "not-an-address" in text[3]
    assert "Nowhere Agency" in text[4] and "does not take part" in text[4]
    assert "listed twice" in text[5]
    assert "fr" in text[6]
    assert not Recipient.objects.exists()
    assert services.import_recipients(world.analyst, campaign, "name\nX\n").errors[0][0] == 1


def test_csv_import_and_staff_list(world: World) -> None:
    campaign = world.campaign()
    result = services.import_recipients(world.analyst, campaign, "\ufeff" + CSV)
    assert (result.added, result.errors) == (4, [])
    added = services.add_staff(world.analyst, campaign, world.bureau)
    assert added == 2  # bureau-admin and bureau-reporter; Alice and Bo were imported
    emails = set(campaign.recipients.values_list("email", flat=True))
    assert {"bureau-admin@example.org", "bureau-reporter@example.org"} <= emails
    tokens = list(campaign.recipients.values_list("token", flat=True))
    assert len(set(tokens)) == 6 and min(len(t) for t in tokens) >= 32
    with pytest.raises(ValidationError):
        services.add_staff(world.analyst, campaign, world.cert)  # not taking part
    services.launch(world.analyst, campaign)
    with pytest.raises(ValidationError):
        services.import_recipients(world.analyst, campaign, CSV)  # no longer a draft


def test_launch_plans_business_hours_in_each_agency_zone(world: World) -> None:
    campaign = world.campaign(starts_at=at(2026, 12, 7, 0, 0))  # Monday 08:00 in Taipei
    campaign.participants.filter(organisation=world.grid).update(time_zone="Europe/Berlin")
    services.import_recipients(world.analyst, campaign, CSV)
    with pytest.raises(ValidationError):
        services.launch(world.analyst, world.campaign("Empty"))
    services.launch(world.analyst, campaign)
    for r in campaign.recipients.all():
        assert r.send_at is not None
        zone = ZoneInfo("Europe/Berlin" if r.organisation == world.grid else "Asia/Taipei")
        local = r.send_at.astimezone(zone)
        assert local.weekday() < 5 and 9 <= local.hour < 17, (r.email, local)


def test_building_a_campaign_on_the_pages(world: World, client: Client) -> None:
    sign_in(client, world.analyst)
    form = {
        "name": "Parcel notice", "subject_en": "Parcel waiting", "subject_zh_hant": "包裹待領",
        "body_en": "A parcel for {{name}}: {{link}}", "body_zh_hant": "{{name}} 的包裹 {{link}}",
        "tracking_domain": "parcel.example.net", "sending_profile": world.profile.pk,
        "starts_at": "2026-12-14T09:00", "spread_days": "2", "day_start": "09:00",
        "day_end": "17:00", "per_domain_per_hour": "30", "open_threshold": "10",
        "click_threshold": "6", "organisations": [world.bureau.pk, world.office.pk],
    }  # fmt: skip
    missing_link = client.post("/drills/new/", {**form, "body_en": "No link here"})
    assert (
        missing_link.status_code == 400 and "must contain {{link}}" in missing_link.content.decode()
    )
    reply = client.post("/drills/new/", form)
    assert reply.status_code == 302, reply.content.decode()[:2000]
    campaign = Campaign.objects.get(name="Parcel notice")
    bad = client.post(
        f"/drills/{campaign.pk}/recipients/",
        {"file": SimpleUploadedFile("r.csv", BAD.encode(), content_type="text/csv")},
    )
    assert bad.status_code == 400
    page = bad.content.decode()
    assert "Nothing was imported" in page and "not-an-address" in page
    good = client.post(
        f"/drills/{campaign.pk}/recipients/",
        {
            "file": SimpleUploadedFile(
                "r.csv",
                CSV.replace("dan@grid.example.org,Grid Co,Dan,,en\n", "").encode(),
                content_type="text/csv",
            )
        },
        follow=True,
    )
    assert "3 recipients imported" in good.content.decode()  # without Grid Co's row
    follow = client.post(f"/drills/{campaign.pk}/launch/", follow=True).content.decode()
    assert 'id="campaign-state">Scheduled' in follow
    assert client.post(f"/drills/{campaign.pk}/pause/", follow=True).status_code == 200
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.PAUSED


def test_grid_co_not_taking_part_is_a_row_error(world: World) -> None:
    campaign = services.create_campaign(
        world.analyst, organisations=[world.bureau], name="One agency",
        subject_en="s", subject_zh_hant="s", body_en="{{link}}", body_zh_hant="{{link}}",
        tracking_domain="t.example.net", sending_profile=world.profile, starts_at=timezone.now(),
    )  # fmt: skip
    result = services.import_recipients(world.analyst, campaign, CSV)
    assert [line for line, _ in result.errors] == [4, 5]


# --- the compliance calendar ---------------------------------------------------------


def test_statutory_duties_come_from_the_profile() -> None:
    duties = calendar.duties("A", 2026)
    kinds = [(d.kind, d.period_start.month) for d in duties]
    assert kinds == [("incident_response", 1), ("social_engineering", 1), ("social_engineering", 7)]
    se = [d for d in duties if d.kind == "social_engineering"]
    assert se[0].due_at.astimezone(ZoneInfo("Asia/Taipei")).date().isoformat() == "2026-06-30"
    assert all(d.results_days == 30 for d in duties)
    assert calendar.duties("E", 2026) == []
    with pytest.raises(ValueError):
        calendar.duties("Z", 2026)


def test_states_due_done_late_missing() -> None:
    due = at(2026, 6, 30, 15, 59)
    now = at(2026, 7, 15)
    assert calendar.state(at(2026, 12, 31), None, None, 30, now) == calendar.DUE
    assert calendar.state(due, None, None, 30, now) == calendar.MISSING
    assert calendar.state(due, at(2026, 6, 1), at(2026, 6, 20), 30, now) == calendar.DONE
    assert calendar.state(due, at(2026, 7, 2), at(2026, 7, 10), 30, now) == calendar.LATE
    assert calendar.state(due, at(2026, 6, 1), at(2026, 7, 10), 30, now) == calendar.LATE
    assert calendar.state(due, at(2026, 7, 10), None, 30, now) == calendar.LATE
    assert calendar.state(due, at(2026, 5, 1), None, 30, now) == calendar.MISSING


def test_calendar_records_and_reminders(world: World) -> None:
    year = timezone.now().year
    obligations = services.plan_calendar(world.analyst, world.bureau, level="B", year=year)
    assert len(obligations) == 3
    assert len(services.plan_calendar(world.analyst, world.bureau, level="B", year=year)) == 3
    first = obligations[0]
    with pytest.raises(ValidationError):
        services.record_held(world.bureau_admin, first, held_at=timezone.now() + timedelta(days=1))
    services.record_held(world.bureau_admin, first, held_at=timezone.now())
    now = min(o.due_at for o in obligations) - timedelta(days=10)
    sent = services.send_reminders(now=now)
    assert sent >= 1
    assert Notification.objects.filter(user=world.bureau_admin, kind="drill_due").exists()
    assert services.send_reminders(now=now) == 0  # once


def test_recording_a_drill_on_the_calendar_page(world: World, client: Client) -> None:
    obligation = services.plan_calendar(world.analyst, world.bureau, level="A", year=2026)[1]
    sign_in(client, world.bureau_reporter)  # a reporter may not record
    page = client.get("/drills/calendar/").content.decode()
    assert 'name="held_at"' not in page
    client.post("/drills/calendar/", {"obligation": obligation.pk, "held_at": "2026-03-02T10:00"})
    obligation.refresh_from_db()
    assert obligation.held_at is None
    sign_in(client, world.bureau_admin)
    assert 'name="held_at"' in client.get("/drills/calendar/").content.decode()
    reply = client.post(
        "/drills/calendar/",
        {
            "obligation": obligation.pk,
            "held_at": "2026-03-02T10:00",
            "results_at": "2026-03-20T10:00",
        },
        follow=True,
    )
    assert "Drill recorded." in reply.content.decode()
    obligation.refresh_from_db()
    assert obligation.held_at is not None and obligation.results_at is not None
    sign_in(client, world.grid_admin)  # another agency's row is not found
    assert (
        client.post("/drills/calendar/", {"obligation": obligation.pk, "held_at": "x"}).status_code
        == 404
    )
