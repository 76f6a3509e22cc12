"""The incident pages: report with a guided level, the case page with its clocks, the
queue and its CSV export, and the actions refused when the workflow does not allow them."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bulwark.conftest import sign_in
from bulwark.constituency import services as cs
from bulwark.incidents.models import Incident
from bulwark.incidents.tests.test_journey import People


@pytest.fixture
def people(db: None) -> People:
    return People()


def web(people: People, username: str) -> Client:
    from bulwark.constituency.models import User

    return sign_in(Client(), User.objects.get(username=username))


def report_form(people: People, **overrides: Any) -> dict[str, Any]:
    aware = timezone.localtime(timezone.now() - timedelta(minutes=20))
    return {
        "organisation": people.agency.pk,
        "title": "Ransomware on file server",
        "description": "Files encrypted.",
        "rsit_class": "malicious-code",
        "rsit_type": "infected-system",
        "aware_at": aware.strftime("%Y-%m-%dT%H:%M"),
        "confidentiality": "none",
        "integrity": "serious",
        "availability": "serious",
        "core_system": "on",
        "restored_in_time": "false",
        "secret": "none",
        "tlp": "amber",
        **overrides,
    }


def test_report_through_the_web_form_and_see_the_clocks(people: People) -> None:
    client = web(people, "reporter")
    response = client.post("/incidents/new/", report_form(people))
    assert response.status_code == 302, response.context["form"].errors
    incident = Incident.objects.get()
    assert incident.level == 3  # serious impact on a core (non-CI) system not restored in time
    page = client.get(response["Location"]).content.decode()
    assert 'data-clock="notification" data-state="met"' in page
    assert 'data-clock="review" data-state="running"' in page
    assert "left" in page  # time left on the open clocks
    assert "Asia/Taipei" in page or "CST" in page


def test_level_proposal_endpoint_explains_itself(people: People) -> None:
    client = web(people, "reporter")
    page = client.post(
        "/incidents/propose-level/",
        {
            "confidentiality": "minor",
            "integrity": "none",
            "availability": "none",
            "secret": "national",
            "restored_in_time": "unknown",
        },
    ).content.decode()
    assert "L4" in page and "national secrets" in page


def test_other_level_without_reason_is_refused_with_the_proposal(people: People) -> None:
    client = web(people, "reporter")
    response = client.post("/incidents/new/", report_form(people, level="1"))
    assert response.status_code == 200
    assert "level_reason" in response.context["form"].errors
    assert Incident.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"aware_at": "2999-01-01T00:00"}, "aware_at"),
        ({"aware_at": "not a date"}, "aware_at"),
        ({"rsit_class": "fraud", "rsit_type": "ddos"}, "rsit_type"),
        ({"title": ""}, "title"),
        ({"organisation": "999999"}, "organisation"),
    ],
)
def test_bad_web_reports_show_field_errors(people: People, overrides: dict, field: str) -> None:
    response = web(people, "reporter").post("/incidents/new/", report_form(people, **overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert Incident.objects.count() == 0


def test_review_and_queue_on_the_web(people: People) -> None:
    web(people, "reporter").post("/incidents/new/", report_form(people))
    incident = Incident.objects.get()
    reviewer = web(people, "reviewer")
    page = reviewer.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Confirm level" in page
    # No level chosen, or another level without a reason: refused, nothing changes.
    for refused in ({"review-level": ""}, {"review-level": "1", "review-comment": " "}):
        response = reviewer.post(f"/incidents/{incident.pk}/review/", refused)
        assert response.status_code == 400
        incident.refresh_from_db()
        assert (incident.level, incident.status) == (3, "reported")
    done = reviewer.post(
        f"/incidents/{incident.pk}/review/", {"review-level": "3", "review-comment": "ok"}
    )
    assert done.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "reviewed" and incident.forwarded_at is not None
    # Reviewing twice is refused with the workflow's message.
    again = reviewer.post(f"/incidents/{incident.pk}/review/", {"review-level": "2"}, follow=True)
    assert "not possible while the incident is reviewed" in again.content.decode()
    queue = web(people, "duty").get("/incidents/?open=1").content.decode()
    assert incident.reference in queue
    assert web(people, "outsider").get(f"/incidents/{incident.pk}/").status_code == 404


def test_csv_export_contains_only_visible_incidents(people: People) -> None:
    web(people, "reporter").post("/incidents/new/", report_form(people))
    other_user = cs.create_user(None, username="other-reporter", email="o@example.org")
    cs.add_membership(None, other_user, people.other, "reporter")
    other = sign_in(Client(), other_user)
    other.post(
        "/incidents/new/", report_form(people, organisation=people.other.pk, title="Other case")
    )
    rows = (
        b"".join(web(people, "reporter").get("/incidents/?format=csv").streaming_content)
        .decode()
        .splitlines()
    )
    assert rows[0].startswith("\ufeffReference,Organisation,Title,")  # BOM: Excel reads UTF-8
    assert len(rows) == 2 and "Ransomware" in rows[1]
    everything = b"".join(
        web(people, "duty").get("/incidents/?format=csv").streaming_content
    ).decode()
    assert "Other case" in everything and "Ransomware" in everything


def test_unknown_action_is_refused(people: People) -> None:
    web(people, "reporter").post("/incidents/new/", report_form(people))
    incident = Incident.objects.get()
    assert web(people, "duty").post(f"/incidents/{incident.pk}/delete/").status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "since=2026-02-30", "until=9999-99-99", "until=9999-12-31", "since=0001-01-01",
        "level=x", "authority=abc", "clock=sideways",
        "q=" + "x" * 5000, "organisation=-1", "status=<script>", "page=-3", "sector=%00",
    ],
)  # fmt: skip
def test_queue_filters_tolerate_garbage(people: People, query: str) -> None:
    response = web(people, "duty").get(f"/incidents/?{query}")
    assert response.status_code == (400 if "%00" in query else 200)
    # The API names a bad id or level filter (400) rather than ignoring it (issue 20).
    bad_id = query in ("level=x", "authority=abc", "organisation=-1")
    for path in ("/api/v1/incidents/", "/api/v1/incidents/stats/"):
        api = web(people, "duty").get(f"{path}?{query}")
        assert api.status_code == (400 if "%00" in query or bad_id else 200), path


def test_search_covers_timeline_notes_and_filters(people: People) -> None:
    web(people, "reporter").post("/incidents/new/", report_form(people))
    incident = Incident.objects.get()
    web(people, "duty").post(
        f"/incidents/{incident.pk}/note/",
        {"note-kind": "guidance", "note-text": "Check the Mimikatz traces."},
    )
    duty = web(people, "duty")
    assert incident.reference in duty.get("/incidents/?q=mimikatz").content.decode()
    assert incident.reference not in duty.get("/incidents/?q=nothing-like-this").content.decode()
    assert (
        incident.reference
        in duty.get(f"/incidents/?authority={people.authority.pk}").content.decode()
    )
    assert (
        incident.reference
        not in duty.get(f"/incidents/?authority={people.cert.pk}").content.decode()
    )
    today = timezone.localdate().isoformat()
    assert (
        incident.reference in duty.get(f"/incidents/?since={today}&until={today}").content.decode()
    )
    assert incident.reference not in duty.get("/incidents/?clock=overdue").content.decode()


def test_audit_filter_with_impossible_date(admin_client: Client) -> None:
    assert admin_client.get("/audit/?since=2026-02-30&until=2026-13-01").status_code == 200


def test_indicator_lines_in_the_web_form(people: People) -> None:
    client = web(people, "reporter")
    bad = client.post(
        "/incidents/new/", report_form(people, indicators="198.51.100.7\n# comment\nnot a domain!")
    )
    assert "line 3" in str(bad.context["form"].errors["indicators"])
    good = client.post(
        "/incidents/new/", report_form(people, indicators="198.51.100.7\nevil.example.com\n")
    )
    assert good.status_code == 302
    page = client.get(good["Location"]).content.decode()
    assert "evil.example.com" in page and "198.51.100.7" in page


def test_exports_follow_visibility(people: People) -> None:
    web(people, "reporter").post("/incidents/new/", report_form(people))
    incident = Incident.objects.get()
    reporter = web(people, "reporter")
    stix = reporter.get(f"/incidents/{incident.pk}/export/stix/")
    assert stix.status_code == 200 and b'"type": "incident"' in stix.content
    iodef = reporter.get(f"/incidents/{incident.pk}/export/iodef/")
    assert iodef.status_code == 200 and incident.reference.encode() in iodef.content
    assert reporter.get(f"/incidents/{incident.pk}/export/pdf/").status_code == 404
    outsider = web(people, "outsider")
    assert outsider.get(f"/incidents/{incident.pk}/export/stix/").status_code == 404
    api = web(people, "duty")
    assert api.get(f"/api/v1/incidents/{incident.pk}/stix/").json()["type"] == "bundle"
    assert api.get(f"/api/v1/incidents/{incident.pk}/iodef/")["Content-Type"] == "application/xml"
    assert web(people, "outsider").get(f"/api/v1/incidents/{incident.pk}/iodef/").status_code == 404


def test_drills_are_counted_apart(people: People) -> None:
    client = web(people, "reporter")
    client.post("/incidents/new/", report_form(people))
    client.post("/incidents/new/", report_form(people, title="Drill", is_drill="on"))
    counts = client.get("/").context["counts"]
    assert counts["open_incidents"] == 1 and counts["open_drills"] == 1
    listed = client.get("/incidents/?drill=0").context["rows"]
    assert [incident.title for incident, _clocks in listed] == ["Ransomware on file server"]


def test_an_agency_finds_its_own_case_by_a_note_word_however_many_others_match(
    people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: notes were searched over every incident, the first matches kept, then
    narrowed to what the viewer sees: with enough other organisations' notes matching, an
    agency's own case dropped out of its search. Notes are searched among the viewer's
    incidents."""
    from bulwark.incidents import selectors
    from bulwark.incidents.tests.test_journey import report

    monkeypatch.setattr(selectors, "MAX_NOTE_MATCHES", 2)
    others = []
    for n in range(3):
        created = people.post(
            "outsider",
            "/api/v1/incidents/",
            {
                "organisation": people.other.pk, "title": f"Other case {n}",
                "description": "Elsewhere.", "rsit_class": "intrusions",
                "rsit_type": "application-compromise",
                "aware_at": timezone.now() - timedelta(minutes=30), "integrity": "minor",
            },
        )  # fmt: skip
        assert created.status_code == 201, created.json()
        others.append(Incident.objects.get(pk=created.json()["id"]))
    ours = Incident.objects.get(pk=report(people).json()["id"])
    duty = web(people, "duty")
    for incident in [*others, ours]:  # the others' notes first: the first matches
        duty.post(
            f"/incidents/{incident.pk}/note/",
            {"note-kind": "guidance", "note-text": "Look for the beacon to c2.example."},
        )
    page = web(people, "reporter").get("/incidents/?q=beacon").content.decode()
    assert ours.reference in page
    assert not any(o.reference in page for o in others)
    api = people.clients["reporter"].get("/api/v1/incidents/?q=beacon").json()
    assert [r["reference"] for r in api["results"]] == [ours.reference]
