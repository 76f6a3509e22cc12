"""Every role's journey through the API: the agency reports, its authority reviews, the
CERT guides the response, the agency recovers and files the final report, the CERT asks
for a revision, grants an extension and closes the case."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bulwark.conftest import bearer
from bulwark.constituency import services as cs
from bulwark.constituency.models import Organisation, User
from bulwark.core import audit
from bulwark.core.models import AuditEntry
from bulwark.incidents.models import Incident

SCOPES = ["incidents:read", "incidents:write", "constituency:read"]
ITEMS = {
    "times": "Occurred 02:00, aware 02:10, recovered 18:00.",
    "scope_and_damage": "One web server; no data left.",
    "damage_control": "Isolated, reimaged, restored from backup.",
    "investigation": "Logs reviewed with the CERT.",
    "root_cause": "Unpatched CMS plugin.",
    "prevention": "Patch management, WAF rule.",
    "follow_up": "Monthly review until June.",
}


class People:
    def __init__(self) -> None:
        self.cert = cs.create_organisation(None, name="CERT", kind="national_cert", country="TW")
        self.authority = cs.create_organisation(
            None, name="Ministry", kind="authority", country="TW", parent=self.cert
        )
        self.agency = cs.create_organisation(
            None, name="Bureau", kind="government_agency", country="TW", parent=self.authority
        )
        self.other = cs.create_organisation(
            None, name="Other bureau", kind="government_agency", country="TW", parent=self.cert
        )
        self.clients: dict[str, Client] = {}
        for name, org, role in [
            ("reporter", self.agency, "reporter"),
            ("reviewer", self.authority, "reviewer"),
            ("duty", self.cert, "duty_officer"),
            ("outsider", self.other, "reporter"),
        ]:
            user = cs.create_user(
                None, username=name, email=f"{name}@example.org", password="p" * 14
            )
            cs.add_membership(None, user, org, role)
            self.clients[name] = Client(**bearer(user, SCOPES))

    def post(self, who: str, path: str, body: dict[str, Any]) -> Any:
        return self.clients[who].post(
            path, json.dumps(body, default=str), content_type="application/json"
        )


@pytest.fixture
def people(db: None) -> People:
    return People()


def report(people: People, **overrides: Any) -> Any:
    body = {
        "organisation": people.agency.pk,
        "title": "Web defacement",
        "description": "Home page replaced.",
        "rsit_class": "intrusions",
        "rsit_type": "application-compromise",
        "aware_at": timezone.now() - timedelta(minutes=30),
        "integrity": "serious",
        "core_system": True,
        **overrides,
    }
    return people.post("reporter", "/api/v1/incidents/", body)


def clock(body: dict[str, Any], key: str) -> dict[str, Any]:
    return next(c for c in body["clocks"] if c["key"] == key)


def test_full_journey(people: People) -> None:
    created = report(people)
    assert created.status_code == 201, created.json()
    body = created.json()
    url = f"/api/v1/incidents/{body['id']}/"
    # Serious integrity impact on a core system (non-CI) proposes level 3.
    assert body["level"] == body["proposed_level"] == 3
    assert clock(body, "notification")["state"] == "met"
    assert clock(body, "review")["state"] == "running"
    assert body["reference"].startswith(f"INC-{timezone.now():%Y}-")

    # The outsider cannot see it; the reviewer can, and confirms level 3: forwarded at once.
    assert people.clients["outsider"].get(url).status_code == 404
    reviewed = people.post("reviewer", url + "review/", {"level": 3, "comment": "Confirmed."})
    assert reviewed.status_code == 200, reviewed.json()
    assert reviewed.json()["status"] == "reviewed"
    assert clock(reviewed.json(), "forwarding")["state"] == "met"

    # The reporter may not review; the CERT responds with guidance.
    assert people.post("reporter", url + "review/", {"level": 1}).status_code == 403
    assert people.post("duty", url + "respond/", {}).json()["status"] == "responding"
    guidance = people.post(
        "duty", url + "notes/", {"kind": "guidance", "text": "Preserve the logs."}
    )
    assert guidance.json()["timeline"][-1]["text"] == "Preserve the logs."
    assert (
        people.post("reporter", url + "notes/", {"kind": "guidance", "text": "x"}).status_code
        == 403
    )

    # Recovery, then the final report with its seven items.
    recovered = people.post(
        "reporter", url + "recovery/", {"completed_at": timezone.now(), "summary": "Restored."}
    )
    assert recovered.json()["status"] == "recovered"
    assert clock(recovered.json(), "recovery")["state"] == "met"
    assert clock(recovered.json(), "final_report")["state"] == "running"
    no_meeting = people.post("reporter", url + "final-report/", ITEMS)
    assert no_meeting.status_code == 400 and "CISO" in no_meeting.json()["status"][0]
    meeting = {"kind": "ciso_meeting", "text": "CISO meeting held with the CERT; plan agreed."}
    assert people.post("reporter", url + "notes/", meeting).status_code == 200
    partial = people.post("reporter", url + "final-report/", {"times": "x"})
    assert partial.status_code == 400 and "root_cause" in partial.json()
    assert people.post("reporter", url + "final-report/", ITEMS).json()["status"] == "final_report"

    # Revision loop, extension, approval.
    no_reason = people.post("duty", url + "final-report/decision/", {"approve": False})
    assert no_reason.status_code == 400
    revise = people.post(
        "duty", url + "final-report/decision/", {"approve": False, "comment": "Add timeline."}
    )
    assert revise.json()["status"] == "revision_required"
    until = timezone.now() + timedelta(days=60)
    extended = people.post(
        "duty", url + "extension/", {"until": until, "reason": "Forensics pending."}
    )
    assert clock(extended.json(), "final_report")["extended"] is True
    assert people.post("reporter", url + "final-report/", ITEMS).json()["status"] == "final_report"
    closed = people.post("duty", url + "final-report/decision/", {"approve": True})
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"]
    # Nothing more happens on a closed case, and the history is whole.
    late = people.post("reporter", url + "notes/", {"kind": "note", "text": "one more"})
    assert late.status_code == 400 and "closed" in late.json()["status"][0]
    actions = set(
        AuditEntry.objects.filter(
            object_id=str(body["id"]), object_type="incidents.incident"
        ).values_list("action", flat=True)
    )
    assert {
        "incident.reported",
        "incident.reviewed",
        "incident.closed",
        "incident.extension_granted",
    } <= actions
    assert audit.verify().ok


def test_level_change_is_a_new_notification(people: People) -> None:
    body = report(people, integrity="minor", core_system=False).json()
    assert body["level"] == 1
    url = f"/api/v1/incidents/{body['id']}/"
    people.post("reviewer", url + "review/", {"level": 1})
    before = clock(people.clients["reporter"].get(url).json(), "recovery")["due_at"]
    changed = people.post(
        "reporter", url + "change-level/", {"level": 3, "comment": "Data leak found."}
    )
    assert changed.status_code == 200, changed.json()
    after = changed.json()
    assert after["status"] == "reported" and after["level"] == 3
    assert clock(after, "review")["state"] == "running"  # reviewed again
    assert clock(after, "recovery")["due_at"] < before  # 36 h instead of 72 h
    assert people.post("reporter", url + "change-level/", {"level": 2}).status_code == 400


def test_backfilled_report_keeps_the_real_time(people: People) -> None:
    real = timezone.now() - timedelta(hours=5)
    body = report(
        people,
        aware_at=real - timedelta(minutes=20),
        reported_at=real,
        backfill_reason="Platform unreachable; reported by phone to the CERT hotline.",
    ).json()
    assert clock(body, "notification")["state"] == "met"
    assert body["reported_at"] != body["recorded_at"]
    no_reason = report(people, reported_at=real)
    assert no_reason.status_code == 400 and "backfill_reason" in no_reason.json()


def test_choosing_another_level_needs_a_reason(people: People) -> None:
    assert report(people, level=1).status_code == 400
    body = report(people, level=4, level_reason="National secrets may be involved.").json()
    assert body["level"] == 4 and body["proposed_level"] == 3


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"aware_at": "2999-01-01T00:00:00Z"}, "aware_at"),
        ({"aware_at": "yesterday"}, "aware_at"),
        ({"reported_at": "2000-01-01T00:00:00Z", "backfill_reason": "phone"}, "reported_at"),
        ({"rsit_class": "fraud", "rsit_type": "ddos"}, "rsit_type"),
        ({"rsit_class": "nonsense"}, "rsit_class"),
        ({"title": "t" * 201}, "title"),
        ({"description": "d" * 20_001}, "description"),
        ({"level": 9}, "level"),
        ({"tlp": "purple"}, "tlp"),
        ({"profile": "../../etc/passwd"}, "profile"),
        ({"organisation": 999999}, "organisation"),
    ],
)
def test_bad_reports_are_refused_and_nothing_is_stored(
    people: People, overrides: dict, field: str
) -> None:
    response = report(people, **overrides)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Incident.objects.count() == 0


def test_only_members_report_for_their_organisation(people: People) -> None:
    response = people.post(
        "outsider", "/api/v1/incidents/",
        {"organisation": people.agency.pk, "title": "x", "description": "x", "rsit_class": "other",
         "rsit_type": "other", "aware_at": timezone.now()},
    )  # fmt: skip
    assert response.status_code == 400  # the agency is not even visible to them
    assert Incident.objects.count() == 0


def test_queue_is_sorted_by_nearest_deadline(people: People) -> None:
    slow = report(people, integrity="minor", core_system=False, title="slow").json()  # L1
    report(people, title="fast")  # L3: review due in 2 h
    people.post("reviewer", f"/api/v1/incidents/{slow['id']}/review/", {"level": 1})
    queue = people.clients["duty"].get("/api/v1/incidents/?open=1").json()["results"]
    assert [i["title"] for i in queue] == ["fast", "slow"]
    assert people.clients["duty"].get("/api/v1/incidents/?level=1").json()["count"] == 1
    assert people.clients["outsider"].get("/api/v1/incidents/").json()["count"] == 0


def test_stats_count_what_the_filtered_list_shows(people: People) -> None:
    report(people, title="defaced")  # level 3 intrusion
    report(people, title="slow", integrity="minor", core_system=False)  # level 1 intrusion
    report(people, title="phish", rsit_class="fraud", rsit_type="phishing", tlp="red")
    duty = people.clients["duty"]
    stats = duty.get("/api/v1/incidents/stats/").json()
    assert stats["total"] == 3
    assert stats["by_class"]["intrusions"] == 2 and stats["by_class"]["fraud"] == 1
    assert stats["by_class"]["malicious-code"] == 0  # every class is listed, zeros included
    assert sum(stats["by_level"].values()) == 3
    for query in ("level=3", "rsit_class=intrusions", "q=phish", "open=1&level=1"):
        listed = duty.get(f"/api/v1/incidents/?{query}").json()["count"]
        counted = duty.get(f"/api/v1/incidents/stats/?{query}").json()
        assert counted["total"] == listed, query
    # The outsider's counts are empty; a colleague does not count the reporter's RED case.
    assert people.clients["outsider"].get("/api/v1/incidents/stats/").json()["total"] == 0
    colleague = cs.create_user(None, username="colleague", email="c@example.org")
    cs.add_membership(None, colleague, people.agency, "reporter")
    assert Client(**bearer(colleague, SCOPES)).get("/api/v1/incidents/stats/").json()["total"] == 2


def test_national_counts_follow_every_write(people: People) -> None:
    """The duty officer's unfiltered counts come from trigger-kept totals; whatever writes
    an incident (service, bulk update, delete), they equal a fresh count of the rows."""
    from django.db.models import Count

    from bulwark.incidents.models import IncidentCount

    ids = [report(people, title=f"case {i}").json()["id"] for i in range(3)]
    report(people, title="phish", rsit_class="fraud", rsit_type="phishing", tlp="red")
    people.post("reviewer", f"/api/v1/incidents/{ids[0]}/review/", {"level": 2, "comment": "x"})
    Incident.objects.filter(pk=ids[1]).update(status="closed", rsit_class="malicious-code")
    Incident.objects.filter(pk=ids[2]).delete()

    def fresh(rows: Any) -> dict[tuple[int, str], int]:
        pairs = rows.values_list("level", "rsit_class").annotate(n=Count("*")).order_by()
        return {(level, rsit_class): n for level, rsit_class, n in pairs}

    def kept(**filters: Any) -> dict[tuple[int, str], int]:
        totals: dict[tuple[int, str], int] = {}
        for c in IncidentCount.objects.filter(n__gt=0, **filters):
            totals[c.level, c.rsit_class] = totals.get((c.level, c.rsit_class), 0) + c.n
        return totals

    assert kept() == fresh(Incident.objects.all())
    assert kept(is_open=True) == fresh(Incident.objects.exclude(status="closed"))
    assert kept(tlp="red") == fresh(Incident.objects.filter(tlp="red"))
    assert sum(kept().values()) == 3  # four reported, one deleted
    duty = people.clients["duty"]
    for query in ("", "open=1", "level=2", "rsit_class=fraud", "tlp=red", "drill=0"):
        counted = duty.get(f"/api/v1/incidents/stats/?{query}").json()
        listed = duty.get(f"/api/v1/incidents/?{query}").json()["count"]
        assert counted["total"] == listed, query
    assert duty.get("/api/v1/incidents/stats/").json()["by_class"]["malicious-code"] == 1


def test_tlp_red_narrows_to_reporter_reviewers_and_cert(people: People) -> None:
    body = report(people, tlp="red").json()
    url = f"/api/v1/incidents/{body['id']}/"
    authority_admin = cs.create_user(None, username="minadmin", email="m@example.org")
    cs.add_membership(None, authority_admin, people.authority, "org_admin")
    colleague = cs.create_user(None, username="colleague", email="c@example.org")
    cs.add_membership(None, colleague, people.agency, "reporter")
    for who, status in [("reporter", 200), ("reviewer", 200), ("duty", 200)]:
        assert people.clients[who].get(url).status_code == status
    for user in (authority_admin, colleague):
        assert Client(**bearer(user, SCOPES)).get(url).status_code == 404


def test_user_without_incident_scope_is_refused(people: People) -> None:
    user = User.objects.get(username="duty")
    client = Client(**bearer(user, ["constituency:read"]))
    response = client.get("/api/v1/incidents/")
    assert response.status_code == 403 and "incidents:read" in response.json()["detail"]
    assert isinstance(Organisation.objects.first(), Organisation)


def test_indicators_are_normalised_and_bad_ones_refused(people: People) -> None:
    indicators = [
        {"value": "198.51.100.7"},
        {"value": "EVIL.Example.COM."},
        {"value": "HTTP://Evil.example.com/login?x=1"},
        {"kind": "sha256", "value": "A" * 64},
        {"value": "Phish@Evil.Example.com"},
        {"value": "2001:DB8::1"},
        {"value": "198.51.100.7"},  # duplicate, kept once
    ]
    body = report(people, indicators=indicators).json()
    assert {(i["kind"], i["value"]) for i in body["indicators"]} == {
        ("ipv4", "198.51.100.7"),
        ("domain", "evil.example.com"),
        ("url", "http://evil.example.com/login?x=1"),
        ("sha256", "a" * 64),
        ("email", "phish@evil.example.com"),  # one form with monitoring (issue 21)
        ("ipv6", "2001:db8::1"),
    }
    for bad in (
        {"value": "300.1.1.1x"},
        {"kind": "md5", "value": "xyz"},
        {"value": "javascript://alert(1)"},
        {"value": "a" * 3000},
    ):
        response = report(people, indicators=[bad])
        assert response.status_code == 400 and "indicators" in response.json(), bad
    assert Incident.objects.count() == 1


def test_tasks_have_owners_and_due_times(people: People) -> None:
    body = report(people).json()
    url = f"/api/v1/incidents/{body['id']}/"
    due = timezone.now() + timedelta(hours=4)
    added = people.post(
        "duty", url + "tasks/", {"title": "Image the server", "owner": "reporter", "due_at": due}
    )
    assert added.status_code == 200, added.json()
    assert added.json()["tasks"][0]["owner"] == "reporter"
    outsider_owner = people.post(
        "duty", url + "tasks/", {"title": "x", "owner": "outsider", "due_at": due}
    )
    assert outsider_owner.status_code == 400 and "owner" in outsider_owner.json()
