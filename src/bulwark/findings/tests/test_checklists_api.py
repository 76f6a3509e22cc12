"""Manual findings and checklists through the API (issue 23: "API for all of the above"):
the same services and rules as the pages, token scopes, visibility; an engagement's
checklist picked by the agency's responsibility level (kept by training)."""

from typing import Any

import pytest
from django.test import Client

from bulwark.conftest import bearer, sign_in
from bulwark.core.models import AuditEntry
from bulwark.findings import selectors, services
from bulwark.findings.models import Checklist, ChecklistResult, Finding
from bulwark.findings.tests.world import World
from bulwark.training.services.learners import set_agency_level

pytestmark = pytest.mark.django_db
RW = ["findings:read", "findings:write"]
ITEMS = [
    {"ref": "HC-1", "title": "Default passwords", "severity": "high", "guidance": "Try them."},
    {"ref": "HC-2", "title": "Backups offline", "severity": "medium"},
]


def post(client: Client, url: str, data: Any, headers: dict[str, str]) -> Any:
    return client.post(url, data, "application/json", **headers)


def make_checklist(world: World, title: str = "Health check", level: str = "") -> Checklist:
    return services.save_checklist(
        world.analyst,
        kind="health_check",
        title=title,
        level=level,
        items=[(i["ref"], i["title"], i["severity"], i.get("guidance", "")) for i in ITEMS],
    )


def test_the_cert_keeps_checklists_and_others_only_read_them(world: World, client: Client) -> None:
    cert = bearer(world.analyst, RW)
    made = post(
        client,
        "/api/v1/checklists/",
        {"kind": "health_check", "title": "Level A health check", "level": "A", "items": ITEMS},
        cert,
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["level"], [i["ref"] for i in body["items"]]) == ("A", ["HC-1", "HC-2"])
    url = f"/api/v1/checklists/{body['id']}/"
    replaced = client.put(
        url, {"level": "B", "items": ITEMS[:1]}, "application/json", **cert
    ).json()
    assert (replaced["level"], [i["ref"] for i in replaced["items"]]) == ("B", ["HC-1"])
    # bad input: a clear 400, never a 500
    bad = post(
        client,
        "/api/v1/checklists/",
        {"kind": "health_check", "title": "X", "level": "Z", "items": ITEMS},
        cert,
    )
    assert bad.status_code == 400 and "level" in bad.json()
    twice = [ITEMS[0], ITEMS[0]]
    bad = post(client, "/api/v1/checklists/", {"kind": "audit", "title": "X", "items": twice}, cert)
    assert bad.status_code == 400 and "items" in bad.json()
    # an agency member reads it but may not write, even with the write scope
    agency = bearer(world.bureau_admin, RW)
    listed = client.get("/api/v1/checklists/", **agency).json()["results"]
    assert [c["title"] for c in listed] == ["Level A health check"]
    refused = post(
        client, "/api/v1/checklists/", {"kind": "audit", "title": "Mine", "items": ITEMS}, agency
    )
    assert refused.status_code == 403
    assert client.delete(url, **agency).status_code == 403
    # retired: gone from the agency's list, still listed for the CERT
    assert client.delete(url, **cert).status_code == 204
    assert client.get("/api/v1/checklists/", **agency).json()["results"] == []
    assert client.get(url, **agency).status_code == 404
    assert client.get(url, **cert).json()["active"] is False
    assert AuditEntry.objects.filter(action="findings.checklist_retired").exists()


def test_a_manual_finding_free_or_from_a_checklist_item(world: World, client: Client) -> None:
    checklist = make_checklist(world)
    item = checklist.items.get(ref="HC-1")
    engagement = world.engagement(kind="health_check", title="Health check 2026")
    url = f"/api/v1/engagements/{engagement.pk}/findings/"
    cert = bearer(world.analyst, RW)
    made = post(client, url, {"checklist_item": item.pk, "host": "10.1.0.9"}, cert)
    assert made.status_code == 201, made.content
    finding = made.json()
    assert (finding["title"], finding["severity"], finding["tool"], finding["rule_id"]) == (
        "Default passwords",
        "high",
        "manual",
        "HC-1",
    )
    assert (finding["organisation"], finding["host"], finding["status"]) == (
        world.bureau.pk,
        "10.1.0.9",
        "open",
    )
    free = post(
        client,
        url,
        {"title": "Admin panel on the Internet", "severity": "critical", "url": "https://x.gov/a",
         "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "cves": ["cve-2024-1"]},
        cert,
    )  # fmt: skip
    assert free.status_code == 400 and "cves" in free.json()  # not a CVE id: said, not a 500
    free = post(
        client,
        url,
        {"title": "Admin panel on the Internet", "severity": "critical", "url": "https://x.gov/a",
         "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
        cert,
    )  # fmt: skip
    assert free.status_code == 201 and free.json()["cvss_score"] == 9.8
    again = post(client, url, {"checklist_item": item.pk, "host": "10.1.0.9"}, cert)
    assert again.status_code == 400 and "already tracked" in again.json()["title"][0]
    assert post(client, url, {"host": "h"}, cert).status_code == 400  # no title, no item
    assert post(client, url, {"title": "T", "severity": "huge"}, cert).status_code == 400
    # the agency may not record findings by hand; a read-only token may not either
    refused = post(
        client, url, {"title": "Mine", "severity": "low"}, bearer(world.bureau_admin, RW)
    )
    assert refused.status_code == 403
    read_only = post(
        client, url, {"title": "T2", "severity": "low"}, bearer(world.analyst, ["findings:read"])
    )
    assert read_only.status_code == 403
    # someone who may not see the engagement: 404, not 403
    hidden = post(client, url, {"title": "T", "severity": "low"}, bearer(world.power_reporter, RW))
    assert hidden.status_code == 404


def test_checklist_results_fail_pass_and_not_applicable(world: World, client: Client) -> None:
    checklist = make_checklist(world)
    hc1, hc2 = checklist.items.order_by("order")
    engagement = world.engagement(kind="health_check", title="Health check 2026")
    url = f"/api/v1/engagements/{engagement.pk}/checklist/"
    cert = bearer(world.analyst, RW)
    failed = post(client, url, {"item": hc1.pk, "result": "fail", "note": "admin/admin"}, cert)
    assert failed.status_code == 201, failed.content
    finding = Finding.objects.get(pk=failed.json()["finding"])
    assert (finding.title, finding.severity, finding.checklist_item_id) == (
        "Default passwords",
        "high",
        hc1.pk,
    )
    assert finding.description == "admin/admin" and finding.engagement_id == engagement.pk
    # recorded again: the result is replaced, the finding stays (no second one)
    again = post(client, url, {"item": hc1.pk, "result": "fail"}, cert).json()
    assert again["finding"] == finding.pk and Finding.objects.count() == 1
    assert post(client, url, {"item": hc2.pk, "result": "not_applicable"}, cert).status_code == 201
    state = client.get(url, **cert).json()
    assert [(i["ref"], i["result"], i["finding"]) for i in state["items"]] == [
        ("HC-1", "fail", finding.pk),
        ("HC-2", "not_applicable", None),
    ]
    assert state["level"] is None  # the Bureau has no recorded level
    passed = post(client, url, {"item": hc2.pk, "result": "pass"}, cert).json()
    assert passed["result"] == "pass" and passed["finding"] is None
    assert ChecklistResult.objects.filter(engagement=engagement).count() == 2
    # bad input: unknown result, an item of another kind's checklist, no such item
    assert post(client, url, {"item": hc2.pk, "result": "maybe"}, cert).status_code == 400
    other = services.save_checklist(
        world.analyst, kind="audit", title="Audit", items=[("A-1", "Logs", "low", "")]
    ).items.get()
    assert post(client, url, {"item": other.pk, "result": "fail"}, cert).status_code == 400
    assert post(client, url, {"item": 999999, "result": "fail"}, cert).status_code == 400
    # the agency reads its engagement's checklist and results but does not record them
    agency = bearer(world.bureau_admin, RW)
    assert client.get(url, **agency).json()["items"][0]["result"] == "fail"
    assert post(client, url, {"item": hc2.pk, "result": "fail"}, agency).status_code == 403
    assert AuditEntry.objects.filter(action="findings.checklist_result").count() == 4


def test_checklist_results_visibility(world: World, client: Client) -> None:
    """The engagement's checklist and its results: the agency, its authority and the
    CERT; another agency and a stranger get 404."""
    make_checklist(world)
    engagement = world.engagement(kind="health_check", title="Health check 2026")
    item = selectors.checklist_items(engagement).get(ref="HC-1")
    services.record_checklist_result(world.analyst, engagement, item, result="fail")
    url = f"/api/v1/engagements/{engagement.pk}/checklist/"
    for who, sees in (
        ("analyst", True),
        ("bureau_reporter", True),
        ("reviewer", True),
        ("power_reporter", False),
        ("other_reporter", False),
        ("nobody", False),
    ):
        answer = client.get(url, **bearer(getattr(world, who), ["findings:read"]))
        assert answer.status_code == (200 if sees else 404), who
        if sees:
            assert answer.json()["items"][0]["result"] == "fail"


def test_the_checklist_is_picked_by_the_agencys_responsibility_level(
    world: World, client: Client
) -> None:
    make_checklist(world, "Any level")
    make_checklist(world, "Level A", level="A")
    make_checklist(world, "Level C", level="C")
    engagement = world.engagement(kind="health_check", title="Health check")

    def titles() -> set[str]:
        return {i.checklist.title for i in selectors.checklist_items(engagement)}

    assert titles() == {"Any level"}  # no level recorded: the checklist for any level
    set_agency_level(world.analyst, world.bureau, "A")
    assert titles() == {"Level A"}
    url = f"/api/v1/engagements/{engagement.pk}/checklist/"
    state = client.get(url, **bearer(world.analyst, ["findings:read"])).json()
    assert state["level"] == "A" and {i["checklist"] for i in state["items"]} == {"Level A"}
    set_agency_level(world.analyst, world.bureau, "B")  # no checklist for B: any level's
    assert titles() == {"Any level"}
    # the engagement page offers the same items for a finding by hand
    set_agency_level(world.analyst, world.bureau, "C")
    page = sign_in(Client(), world.analyst).get(f"/findings/engagements/{engagement.pk}/")
    text = page.content.decode()
    level_c = Checklist.objects.get(title="Level C").items.get(ref="HC-1")
    any_level = Checklist.objects.get(title="Any level").items.get(ref="HC-1")
    assert f'value="{level_c.pk}"' in text and f'value="{any_level.pk}"' not in text


def test_the_checklist_page_sets_a_level(world: World) -> None:
    client = sign_in(Client(), world.analyst)
    answer = client.post(
        "/findings/checklists/",
        {"kind": "health_check", "title": "Level D", "level": "D", "items": "D-1 | low | Logs"},
    )
    assert answer.status_code == 302
    assert Checklist.objects.get(title="Level D").level == "D"
    assert "Responsibility level D" in client.get("/findings/checklists/").content.decode()


def test_the_engagement_page_lists_and_records_checklist_results(world: World) -> None:
    make_checklist(world)
    engagement = world.engagement(kind="health_check", title="Health check 2026")
    hc1 = selectors.checklist_items(engagement).get(ref="HC-1")
    cert = sign_in(Client(), world.analyst)
    url = f"/findings/engagements/{engagement.pk}/"
    answer = cert.post(
        f"{url}checklist/", {"item": hc1.pk, "result": "fail", "note": "admin/admin works"}
    )
    assert answer.status_code == 302
    finding = Finding.objects.get(checklist_item=hc1)
    page = cert.get(url).content.decode()
    row = page.split('data-item="HC-1"')[1].split("</tr>")[0]
    assert "Fail" in row and "admin/admin works" in row and f"F-{finding.pk}" in row
    assert "Not recorded" in page.split('data-item="HC-2"')[1].split("</tr>")[0]
    # bad input: a message, not a 500
    answer = cert.post(f"{url}checklist/", {"item": "x", "result": "fail"}, follow=True)
    assert "not on the engagement&#x27;s checklist" in answer.content.decode()
    answer = cert.post(f"{url}checklist/", {"item": hc1.pk, "result": "maybe"}, follow=True)
    assert "pass, fail or not_applicable" in answer.content.decode()
    # the agency sees the results, without the forms, and may not record
    agency = sign_in(Client(), world.bureau_admin)
    seen = agency.get(url).content.decode()
    assert 'data-item="HC-1"' in seen and "checklist/" not in seen.split('id="checklist"')[1]
    assert agency.post(f"{url}checklist/", {"item": hc1.pk, "result": "pass"}).status_code == 403
    other = sign_in(Client(), world.power_reporter)
    assert other.get(url).status_code == 404
    assert other.post(f"{url}checklist/", {"item": hc1.pk, "result": "pass"}).status_code == 404
