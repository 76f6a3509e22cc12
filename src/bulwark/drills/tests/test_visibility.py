"""Visibility matrix for every drills read path: the CERT sees all, an authority the
agencies below it, an agency itself; nobody sees a draft but the CERT; the tracking and
calendar rows follow the same rule (pages, CSV export, API)."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bulwark.conftest import bearer, sign_in
from bulwark.drills import services
from bulwark.drills.models import Campaign, DrillEvent, DrillObligation, ImprovementPlan
from bulwark.drills.tests.world import World

# Who sees which participating agencies' rows.
SEES = {
    "analyst": {"Bureau", "Office", "Grid Co"},
    "reviewer": {"Bureau", "Office"},  # the Ministry supervises Bureau and Office
    "bureau_admin": {"Bureau"},
    "bureau_reporter": {"Bureau"},
    "grid_admin": {"Grid Co"},
    "nobody": set(),
}


@pytest.fixture
def launched(world: World) -> Campaign:
    campaign = world.launched()
    world.due_now(campaign)
    for r in campaign.recipients.all():
        services.record_outcome(r)
        services.record_report(r.token)
    services.finish(world.analyst, campaign)
    services.record_hit(
        campaign.recipients.get(email="carol@office.example.org").token, "opened",
        agent="Mozilla/5.0 Firefox/133.0", at=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    for org in (world.bureau, world.office, world.grid):
        services.plan_calendar(world.analyst, org, level="A", year=2026)
        ImprovementPlan.objects.get_or_create(
            campaign=campaign, organisation=org, defaults={"due_at": timezone.now()}
        )
    return campaign


@pytest.mark.parametrize("who", list(SEES))
def test_querysets(world: World, launched: Campaign, who: str) -> None:
    user = getattr(world, who)
    expected = SEES[who]
    assert bool(Campaign.objects.visible_to(user).filter(pk=launched.pk)) == bool(expected)
    assert {e.recipient.organisation.name for e in DrillEvent.objects.visible_to(user)} == expected
    assert {p.organisation.name for p in ImprovementPlan.objects.visible_to(user)} == expected
    assert {o.organisation.name for o in DrillObligation.objects.visible_to(user)} == expected


@pytest.mark.parametrize("who", list(SEES))
def test_pages_and_export(world: World, launched: Campaign, client: Client, who: str) -> None:
    sign_in(client, getattr(world, who))
    expected = SEES[who]
    detail = client.get(f"/drills/{launched.pk}/")
    listing = client.get("/drills/").content.decode()
    if not expected:
        assert detail.status_code == 404
        assert client.get(f"/drills/{launched.pk}/results.csv").status_code == 404
        assert launched.name not in listing
    else:
        assert launched.name in listing
        page = detail.content.decode()
        for name in {"Bureau", "Office", "Grid Co"}:
            assert (f'data-organisation="{name}"' in page) == (name in expected), name
        csv = b"".join(client.get(f"/drills/{launched.pk}/results.csv").streaming_content)  # type: ignore[attr-defined]
        for name in {"Bureau", "Office", "Grid Co"}:
            assert (name in csv.decode("utf-8-sig")) == (name in expected), name
    plans = client.get("/drills/plans/").content.decode()
    calendar = client.get("/drills/calendar/").content.decode()
    for name in {"Bureau", "Office", "Grid Co"}:
        assert (f'data-organisation="{name}"' in plans) == (name in expected), name
        assert (f'data-organisation="{name}"' in calendar) == (name in expected), name


@pytest.mark.parametrize("who", list(SEES))
def test_api(world: World, launched: Campaign, client: Client, who: str) -> None:
    headers = bearer(getattr(world, who), ["drills:read"], within_role=True)
    expected = SEES[who]
    listing = client.get("/api/v1/drills/campaigns/", **headers).json()
    ids = {c["id"] for c in listing["results"]}
    assert (launched.pk in ids) == bool(expected)
    results = client.get(f"/api/v1/drills/campaigns/{launched.pk}/results/", **headers)
    if expected:
        assert {a["name"] for a in results.json()["agencies"]} == expected
    else:
        assert results.status_code == 404
    plans = client.get("/api/v1/drills/plans/", **headers).json()["results"]
    assert {p["organisation_name"] for p in plans} == expected
    calendar = client.get("/api/v1/drills/calendar/", **headers).json()
    assert {o["organisation_name"] for o in calendar} == expected


def test_drafts_are_the_cert_s_alone(world: World, client: Client) -> None:
    draft = world.campaign("Draft only")
    assert not Campaign.objects.visible_to(world.bureau_admin).filter(pk=draft.pk).exists()
    assert not Campaign.objects.visible_to(world.reviewer).filter(pk=draft.pk).exists()
    assert Campaign.objects.visible_to(world.analyst).filter(pk=draft.pk).exists()
    sign_in(client, world.bureau_admin)
    assert client.get(f"/drills/{draft.pk}/").status_code == 404


def test_only_the_cert_runs_campaigns(world: World, launched: Campaign, client: Client) -> None:
    sign_in(client, world.bureau_admin)
    assert client.get("/drills/new/").status_code == 403
    assert client.post(f"/drills/{launched.pk}/pause/").status_code == 403
    headers: dict[str, Any] = bearer(world.bureau_admin, ["drills:write"], within_role=True)
    assert (
        client.post(f"/api/v1/drills/campaigns/{launched.pk}/stop/", **headers).status_code == 403
    )
