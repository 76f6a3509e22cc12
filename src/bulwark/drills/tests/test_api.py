"""The drills API's actions call the same services as the pages."""

from django.test import Client

from bulwark.conftest import bearer
from bulwark.drills import services
from bulwark.drills.models import Campaign, ImprovementPlan
from bulwark.drills.tests.world import World


def test_pause_resume_stop_and_file_a_plan_over_the_api(world: World, client: Client) -> None:
    campaign = world.launched()
    cert = bearer(world.analyst, ["drills:read", "drills:write"], within_role=True)
    reply = client.post(f"/api/v1/drills/campaigns/{campaign.pk}/pause/", **cert)
    assert reply.status_code == 200 and reply.json()["state"] == "paused"
    again = client.post(f"/api/v1/drills/campaigns/{campaign.pk}/pause/", **cert)
    assert again.status_code == 400 and "paused" in again.json()["detail"]
    assert (
        client.post(f"/api/v1/drills/campaigns/{campaign.pk}/stop/", **cert).json()["state"]
        == "stopped"
    )
    read_only = bearer(world.analyst, ["drills:read"], within_role=True)
    assert (
        client.post(f"/api/v1/drills/campaigns/{campaign.pk}/finish/", **read_only).status_code
        == 403
    )
    services.finish(world.analyst, Campaign.objects.get(pk=campaign.pk))
    plan = ImprovementPlan.objects.create(
        campaign=campaign, organisation=world.bureau, due_at=campaign.starts_at
    )
    agency = bearer(world.bureau_admin, ["drills:read", "drills:write"], within_role=True)
    short = client.post(
        f"/api/v1/drills/plans/{plan.pk}/file/", {"measures": "short"},
        content_type="application/json", **agency,
    )  # fmt: skip
    assert short.status_code == 400
    filed = client.post(
        f"/api/v1/drills/plans/{plan.pk}/file/",
        {"measures": "Training for every clicker and an outside-mail banner."},
        content_type="application/json", **agency,
    )  # fmt: skip
    assert filed.status_code == 200 and filed.json()["state"] == "filed"
    other = bearer(world.grid_admin, ["drills:read", "drills:write"], within_role=True)
    assert client.post(f"/api/v1/drills/plans/{plan.pk}/file/", {}, **other).status_code == 404


def test_the_campaigns_api_shows_the_training_course_for_clickers(
    world: World, client: Client
) -> None:
    campaign = world.launched()
    Campaign.objects.filter(pk=campaign.pk).update(course_code="PHISH-101")
    cert = bearer(world.analyst, ["drills:read"], within_role=True)
    detail = client.get(f"/api/v1/drills/campaigns/{campaign.pk}/", **cert).json()
    assert detail["course_code"] == "PHISH-101"
    listed = client.get("/api/v1/drills/campaigns/", **cert).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [r["course_code"] for r in rows if r["id"] == campaign.pk] == ["PHISH-101"]
