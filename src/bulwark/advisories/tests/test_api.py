"""The API for every step: write, approve, send, preview, track; an agency's own tool
acknowledges and reports its action with a bearer token; hostile input is refused."""

import json
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from bulwark.advisories.forms import AdvisoryForm
from bulwark.advisories.models import MAX_ATTACHMENT_BYTES, Advisory, InventoryItem
from bulwark.advisories.tests.world import World
from bulwark.conftest import bearer, sign_in

SCOPES = ["advisories:read", "advisories:write"]
BODY = {
    "title": "Example httpd flaw",
    "summary": "Remote code execution.",
    "body": "Patch **now**.",
    "category": "vulnerability-alert",
    "severity": "critical",
    "tlp": "amber",
    "cves": [
        {
            "id": "CVE-2026-1234",
            "cvss_score": 9.8,
            "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        }
    ],
    "affected_products": [{"vendor": "example", "product": "httpd", "versions": "<2.4.60"}],
    "response_required": "action",
    "response_deadline": "2030-01-01T00:00:00Z",
    "target_sectors": ["energy"],
}


def api(user: Any, scopes: list[str] = SCOPES) -> Client:
    return Client(**bearer(user, scopes))


def post(client: Client, path: str, body: Any = None) -> Any:
    return client.post(path, json.dumps(body or {}), content_type="application/json")


def test_the_whole_journey_through_the_api(world: World) -> None:
    analyst, duty = api(world.analyst), api(world.duty)
    created = post(analyst, "/api/v1/advisories/", BODY)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    preview = analyst.get(f"/api/v1/advisories/{pk}/preview/").json()
    assert {r["name"] for r in preview} == {"Power Co", "Grid Co"}
    assert post(analyst, f"/api/v1/advisories/{pk}/submit/").status_code == 200
    refused = post(analyst, f"/api/v1/advisories/{pk}/approve/")
    assert refused.status_code == 403  # four eyes
    assert post(duty, f"/api/v1/advisories/{pk}/approve/").json()["status"] == "approved"
    assert post(duty, f"/api/v1/advisories/{pk}/send/").json()["status"] == "sent"
    # The agency's own tool: lists its inbox, acknowledges, then reports the action.
    tool = api(world.power_reporter)
    inbox = tool.get("/api/v1/advisory-targets/").json()["results"]
    assert [(t["advisory"], t["state"]) for t in inbox] == [(created.json()["reference"], "unread")]
    ack = post(tool, f"/api/v1/advisories/{pk}/respond/")
    assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
    acted = post(
        tool,
        f"/api/v1/advisories/{pk}/respond/",
        {"action": "patched", "note": "Upgraded to 2.4.60"},
    )
    assert acted.json()["state"] == "acted" and acted.json()["action"] == "patched"
    tracking = analyst.get(f"/api/v1/advisories/{pk}/tracking/").json()["results"]
    assert tracking["counts"]["acted"] == 1 and tracking["counts"]["unread"] == 1
    assert {t["organisation"]: t["state"] for t in tracking["targets"]} == {
        "Grid Co": "unread",
        "Power Co": "acted",
    }
    # Revision through the API: the note is required and recipients see it.
    assert post(analyst, f"/api/v1/advisories/{pk}/").status_code == 405
    patched = analyst.patch(
        f"/api/v1/advisories/{pk}/",
        json.dumps({"severity": "high"}),
        content_type="application/json",
    )
    assert patched.status_code == 400 and "note" in patched.json()
    patched = analyst.patch(
        f"/api/v1/advisories/{pk}/",
        json.dumps({"severity": "high", "note": "Lowered."}),
        content_type="application/json",
    )
    assert patched.status_code == 200 and patched.json()["revisions"] == []  # proposed only
    proposals = analyst.get(f"/api/v1/advisories/{pk}/revisions/").json()
    assert [(r["state"], r["note"]) for r in proposals] == [("pending", "Lowered.")]
    assert tool.get(f"/api/v1/advisories/{pk}/revisions/").status_code == 403
    rid = proposals[0]["id"]
    assert post(analyst, f"/api/v1/advisories/{pk}/revisions/{rid}/approve/").status_code == 403
    approved = post(duty, f"/api/v1/advisories/{pk}/revisions/{rid}/approve/")
    assert approved.json()["severity"] == "high" and approved.json()["revision"] == 2
    seen = tool.get(f"/api/v1/advisories/{pk}/").json()["revisions"]
    assert [(r["number"], r["note"], r["approved_by"]) for r in seen] == [(2, "Lowered.", "duty")]


def test_agencies_cannot_write_or_answer_for_others(world: World) -> None:
    advisory = world.sent(target_organisations=[world.bureau])
    assert post(api(world.bureau_admin), "/api/v1/advisories/", BODY).status_code == 403
    assert (
        post(api(world.bureau_admin), f"/api/v1/advisories/{advisory.pk}/approve/").status_code
        == 403
    )
    # Not a recipient: the advisory does not exist for them.
    assert (
        post(api(world.power_reporter), f"/api/v1/advisories/{advisory.pk}/respond/").status_code
        == 404
    )
    assert (
        api(world.bureau_reporter).get(f"/api/v1/advisories/{advisory.pk}/tracking/").status_code
        == 403
    )


def test_hostile_and_oversized_input_is_refused_clearly(world: World) -> None:
    analyst = api(world.analyst)
    big = post(analyst, "/api/v1/advisories/", {**BODY, "body": "x" * 100_001})
    assert big.status_code == 400 and "body" in big.json()
    huge = analyst.post(
        "/api/v1/advisories/", "x" * (3 * 1024 * 1024), content_type="application/json"
    )
    assert huge.status_code == 413 and "too large" in huge.json()["detail"]
    broken = analyst.post("/api/v1/advisories/", "{not json", content_type="application/json")
    assert broken.status_code == 400
    for field, value in [
        ("cves", [{"id": "CVE-1"}]),
        ("tlp", "ultraviolet"),
        ("affected_products", [{"vendor": "x", "product": "y", "versions": "!!"}]),
        ("response_deadline", "tomorrow"),
        ("category", "nonsense"),
    ]:
        answer = post(analyst, "/api/v1/advisories/", {**BODY, field: value})
        assert answer.status_code == 400 and field in answer.json(), (field, answer.content)
    public_amber = post(analyst, "/api/v1/advisories/", {**BODY, "publication": "alert"})
    assert public_amber.status_code == 400 and "publication" in public_amber.json()
    assert Advisory.objects.count() == 0
    advisory = world.sent(target_organisations=[world.bureau])
    bad = post(
        api(world.bureau_reporter),
        f"/api/v1/advisories/{advisory.pk}/respond/",
        {"action": "ignored"},
    )
    assert bad.status_code == 400 and "action" in bad.json()


def test_inventory_api(world: World) -> None:
    admin = api(world.bureau_admin)
    made = post(
        admin,
        "/api/v1/inventory/",
        {"organisation": world.bureau.pk, "cpe": "cpe:2.3:a:example:httpd:2.4.1:*:*:*:*:*:*:*"},
    )
    assert made.status_code == 201 and made.json()["version"] == "2.4.1"
    assert (
        post(
            admin,
            "/api/v1/inventory/",
            {"organisation": world.power.pk, "vendor": "a", "product": "b"},
        ).status_code
        == 403
    )
    bad = post(admin, "/api/v1/inventory/", {"organisation": world.bureau.pk, "cpe": "cpe:2.3:zz"})
    assert bad.status_code == 400 and "cpe" in bad.json()
    assert api(world.power_reporter).get("/api/v1/inventory/").json()["count"] == 0
    assert api(world.analyst).get("/api/v1/inventory/").json()["count"] == 1
    assert admin.delete(f"/api/v1/inventory/{made.json()['id']}/").status_code == 204
    assert not InventoryItem.objects.exists()


def test_pages_write_approve_send_and_answer(world: World) -> None:
    analyst, duty = sign_in(Client(), world.analyst), sign_in(Client(), world.duty)
    form = {
        "title": "Page flaw",
        "category": world.draft().category_id,
        "severity": "high",
        "tlp": "green",
        "summary": "s",
        "body": "<script>alert(1)</script> **b**",
        "response_required": "acknowledge",
        "response_deadline": "2030-01-01T10:00",
        "cves": "CVE-2026-9999 7.5",
        "affected_products": "example httpd >=2.0,<2.4.60",
        "target_organisations": [world.bureau.pk],
    }
    created = analyst.post("/advisories/new/", form)
    assert created.status_code == 302
    advisory = Advisory.objects.get(title="Page flaw")
    assert advisory.affected_products == [
        {"vendor": "example", "product": "httpd", "versions": ">=2.0,<2.4.60"}
    ]
    preview = analyst.get(f"/advisories/{advisory.pk}/preview/").content.decode()
    assert "Bureau" in preview and "Power Co" not in preview
    analyst.post(f"/advisories/{advisory.pk}/submit/")
    analyst.post(f"/advisories/{advisory.pk}/approve/")  # refused: the author
    advisory.refresh_from_db()
    assert advisory.status == "pending"
    duty.post(f"/advisories/{advisory.pk}/approve/")
    duty.post(f"/advisories/{advisory.pk}/send/")
    advisory.refresh_from_db()
    assert advisory.status == "sent"
    agency = sign_in(Client(), world.bureau_reporter)
    page = agency.get(f"/advisories/{advisory.pk}/").content.decode()
    assert "<strong>b</strong>" in page and "<script>alert(1)" not in page
    target = advisory.targets.get()
    answer = agency.post(
        f"/advisories/{advisory.pk}/targets/{target.pk}/respond/",
        {"action": "mitigated", "note": "WAF rule"},
        HTTP_HX_REQUEST="true",
    )
    assert answer.status_code == 200 and 'data-state="acted"' in answer.content.decode()
    tracking = analyst.get(f"/advisories/{advisory.pk}/tracking/").content.decode()
    assert 'data-organisation="Bureau" data-state="acted"' in tracking and "WAF rule" in tracking


def test_attachment_limits_on_the_page(world: World) -> None:
    analyst = sign_in(Client(), world.analyst)
    advisory = world.draft()
    too_big = SimpleUploadedFile("big.bin", b"\0" * (MAX_ATTACHMENT_BYTES + 1))
    page = analyst.post(f"/advisories/{advisory.pk}/attachments/", {"file": too_big}, follow=True)
    assert "the limit is 1048576 bytes" in page.content.decode()
    assert not advisory.attachments.exists()
    fine = SimpleUploadedFile("iocs.txt", b"198.51.100.7\n")
    analyst.post(f"/advisories/{advisory.pk}/attachments/", {"file": fine})
    attachment = advisory.attachments.get()
    download = analyst.get(f"/advisories/{advisory.pk}/attachments/{attachment.pk}/")
    assert download.content == b"198.51.100.7\n"
    assert (
        sign_in(Client(), world.bureau_reporter)
        .get(f"/advisories/{advisory.pk}/attachments/{attachment.pk}/")
        .status_code
        == 404
    )


def test_attachments_through_the_api(world: World) -> None:
    advisory = world.draft()
    analyst = api(world.analyst)
    path = f"/api/v1/advisories/{advisory.pk}/attachments/"
    too_big = SimpleUploadedFile("big.bin", b"\0" * (MAX_ATTACHMENT_BYTES + 1))
    refused = analyst.post(path, {"file": too_big})
    assert refused.status_code == 400 and "limit" in str(refused.json()["file"])
    assert analyst.post(path, {}).status_code == 400
    made = analyst.post(path, {"file": SimpleUploadedFile("iocs.txt", b"198.51.100.7\n")})
    assert made.status_code == 201
    attachment = made.json()["attachments"][0]
    assert attachment["name"] == "iocs.txt" and attachment["size"] == 13
    download = analyst.get(f"{path}{attachment['id']}/")
    assert download.status_code == 200 and download.content == b"198.51.100.7\n"
    assert (
        api(world.bureau_admin).post(path, {"file": SimpleUploadedFile("x", b"x")}).status_code
        == 404
    )


def test_revision_on_the_pages_needs_a_second_person(world: World) -> None:
    advisory = world.sent(target_organisations=[world.bureau])
    analyst, duty = sign_in(Client(), world.analyst), sign_in(Client(), world.duty)
    form = AdvisoryForm.initial_from(advisory)
    form.update(
        cves="CVE-2026-1234 9.8",
        affected_products="example httpd >=2.4.0,<2.4.60",
        category=advisory.category_id,
        response_deadline="2030-01-01T10:00",
        title="Corrected title",
        note="Title corrected.",
    )
    form = {
        k: v
        for k, v in form.items()
        if v is not None
        and k
        not in {
            "target_sectors",
            "target_authorities",
            "target_organisations",
            "target_all",
            "target_inventory",
        }
    }
    analyst.post(f"/advisories/{advisory.pk}/edit/", form)
    page = analyst.get(f"/advisories/{advisory.pk}/").content.decode()
    assert "Revision awaiting approval" in page and 'id="approve-revision"' not in page
    duty.post(f"/advisories/{advisory.pk}/approve-revision/")
    advisory.refresh_from_db()
    assert advisory.title == "Corrected title" and advisory.revision == 2
    reader = sign_in(Client(), world.bureau_reporter).get(f"/advisories/{advisory.pk}/")
    assert "Title corrected." in reader.content.decode()
    assert "awaiting approval" not in reader.content.decode()


def test_inventory_page(world: World) -> None:
    admin = sign_in(Client(), world.bureau_admin)
    added = admin.post(
        "/advisories/inventory/",
        {"organisation": world.bureau.pk, "cpe": "cpe:2.3:a:example:httpd:2.4.1:*:*:*:*:*:*:*"},
    )
    assert added.status_code == 302
    broken = admin.post("/advisories/inventory/", {"organisation": world.bureau.pk, "cpe": "nope"})
    assert broken.status_code == 400 and "CPE 2.3 name starts with" in broken.content.decode()
    other = admin.post(
        "/advisories/inventory/", {"organisation": world.power.pk, "vendor": "a", "product": "b"}
    )
    assert other.status_code == 400  # not an organisation this admin administers
    reporter = sign_in(Client(), world.bureau_reporter).get("/advisories/inventory/")
    assert (
        "httpd" in reporter.content.decode()
        and 'id="inventory-form"' not in reporter.content.decode()
    )
    outsider = sign_in(Client(), world.power_reporter).get("/advisories/inventory/")
    assert "httpd" not in outsider.content.decode()
    item = InventoryItem.objects.get()
    admin.post(f"/advisories/inventory/{item.pk}/remove/")
    assert not InventoryItem.objects.exists()
