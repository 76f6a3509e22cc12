"""What TheHive and DFIR-IRIS users expect of a case (issue 18): one submit shows every
problem of a report, times name their zone and are read in the person's zone, a case does
not close over open tasks without a word, overdue tasks stand out, evidence is on the
timeline, and the queue has its filters, sortable columns, assignees, tags, saved filters,
bulk actions and case templates, none of which lets an agency see or touch another's case."""

import csv
import io
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from bulwark.conftest import sign_in
from bulwark.constituency import services as cs
from bulwark.constituency.models import User
from bulwark.core.models import AuditEntry
from bulwark.incidents import services
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import CaseTemplate, Incident, ResponseTask, SavedFilter
from bulwark.incidents.services import add_evidence
from bulwark.incidents.tests.test_journey import ITEMS, People
from bulwark.incidents.tests.test_pages import report_form


@pytest.fixture
def people(db: None, settings: Any, tmp_path: Any) -> People:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.BULWARK_MEDIA_DIR = str(tmp_path)
    return People()


def user(name: str) -> User:
    return User.objects.get(username=name)


def web(name: str) -> Client:
    return sign_in(Client(), user(name))


def reported(people: People, who: str = "reporter", **overrides: Any) -> Incident:
    org = people.agency if who == "reporter" else people.other
    details: dict[str, Any] = {
        "title": "Web defacement",
        "description": "Home page replaced.",
        "rsit_class": "intrusions",
        "rsit_type": "application-compromise",
        "aware_at": timezone.now() - timedelta(minutes=30),
        "answers": Answers(integrity="minor"),
        **overrides,
    }
    return services.report_incident(user(who), org, **details)


# --- The report form ----------------------------------------------------------------------


def test_every_problem_of_a_report_is_shown_at_once_and_the_proposal_is_kept(
    people: People,
) -> None:
    future = timezone.localtime(timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    before = timezone.localtime(timezone.now() - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = web("reporter").post(
        "/incidents/new/",
        report_form(
            people,
            title="",
            rsit_class="fraud",
            rsit_type="infected-system",  # a type of malicious-code, not of fraud
            level="1",  # the answers propose L3
            aware_at=future,
            reported_at=before,  # and no reason given for the back-fill
        ),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) >= {
        "title", "rsit_type", "level_reason", "aware_at", "backfill_reason",
    }, errors  # fmt: skip
    assert "not a type of fraud" in errors["rsit_type"][0]
    assert "in the future" in errors["aware_at"][0]
    page = response.content.decode()
    assert 'id="form-problems"' in page and "5 problems" in page
    # The proposal box still shows what the answers propose, and what was typed is kept.
    assert "Proposed level: L3" in page
    assert 'value="fraud" selected' in page
    assert not Incident.objects.exists()


def test_the_type_must_belong_to_the_class_and_the_options_are_grouped_by_class(
    people: People,
) -> None:
    page = web("reporter").get("/incidents/new/").content.decode()
    assert 'data-follows="id_rsit_class"' in page
    assert '<optgroup label="fraud">' in page
    response = web("reporter").post(
        "/incidents/new/", report_form(people, rsit_class="fraud", rsit_type="phishing")
    )
    assert response.status_code == 302
    assert Incident.objects.get().rsit_type == "phishing"


# --- Time zones -----------------------------------------------------------------------------


def test_times_are_read_and_shown_in_the_persons_zone(people: People) -> None:
    reporter = user("reporter")
    cs.set_time_zone(reporter, "Europe/Berlin")
    client = web("reporter")
    form_page = client.get("/incidents/new/").content.decode()
    assert "When did you become aware? (Europe/Berlin, UTC+0" in form_page
    typed = timezone.now().astimezone(ZoneInfo("Europe/Berlin")) - timedelta(minutes=40)
    response = client.post(
        "/incidents/new/", report_form(people, aware_at=typed.strftime("%Y-%m-%dT%H:%M"))
    )
    assert response.status_code == 302, response.context["form"].errors
    incident = Incident.objects.get()
    assert incident.aware_at == typed.replace(second=0, microsecond=0)
    assert incident.aware_at.astimezone(UTC) != typed.replace(tzinfo=UTC)
    page = client.get(response["Location"]).content.decode()
    assert f"{typed:%Y-%m-%d %H:%M} UTC+0" in page
    assert 'title="Europe/Berlin"' in page
    # Another person (platform default) sees the same instant in Taipei time.
    taipei = incident.aware_at.astimezone(ZoneInfo("Asia/Taipei"))
    other = web("duty").get(response["Location"]).content.decode()
    assert f"{taipei:%Y-%m-%d %H:%M} UTC+08:00" in other


def test_a_person_sets_their_zone_and_an_unknown_zone_is_refused(people: People) -> None:
    client = web("reporter")
    assert "Asia/Taipei" in client.get("/accounts/time-zone/").content.decode()
    assert client.post("/accounts/time-zone/", {"time_zone": "America/New_York"}).status_code == 302
    assert user("reporter").time_zone == "America/New_York"
    assert AuditEntry.objects.filter(action="user.time_zone_set").exists()
    refused = client.post("/accounts/time-zone/", {"time_zone": "Mars/Olympus"})
    assert refused.status_code == 200 and refused.context["form"].errors
    assert user("reporter").time_zone == "America/New_York"
    # Back to the platform's zone.
    client.post("/accounts/time-zone/", {"time_zone": ""})
    assert user("reporter").time_zone == ""


def test_a_promoted_monitoring_alert_is_not_a_late_notification(people: People) -> None:
    from bulwark.monitoring import services as monitoring
    from bulwark.monitoring.models import Alert, AlertRule

    AlertRule.objects.create(name="scored", min_score=50)
    first_seen = timezone.now() - timedelta(days=2)
    hit = {"indicator": "c2.example", "type": "domain", "ts": first_seen.timestamp(),
           "field": "query", "score": 90, "indicator_id": "indicator--x"}  # fmt: skip
    monitoring.record_hits(people.agency, [hit])
    incident = monitoring.promote_alert(user("duty"), Alert.objects.get())
    notification = next(c for c in services.clock_states(incident) if c.key == "notification")
    assert notification.state == "met"  # the agency learnt of it now, from the CERT
    assert "between" in incident.description  # the first sighting is still recorded


# --- Tasks, closing, evidence ---------------------------------------------------------------


def at_final_report(people: People) -> Incident:
    incident = reported(people)
    services.review_incident(user("reviewer"), incident, level=incident.level)
    services.start_response(user("duty"), incident)
    services.report_recovery(
        user("reporter"), incident, completed_at=timezone.now(), summary="Restored."
    )
    services.submit_final_report(user("reporter"), incident, **ITEMS)
    return Incident.objects.get(pk=incident.pk)


def test_closing_with_open_tasks_needs_a_confirmation(people: People) -> None:
    incident = at_final_report(people)
    services.add_task(
        user("duty"), incident, title="Collect firewall logs", owner=user("reporter"),
        due_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    client = web("duty")
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="open-tasks-warning"' in page and "1 task is still open" in page
    assert 'name="decide-close_with_open_tasks"' in page
    assert 'data-overdue="1"' in page  # the overdue task stands out
    refused = client.post(f"/incidents/{incident.pk}/decide/", {"decide-approve": "1"})
    assert refused.status_code == 400
    assert "Collect firewall logs" in refused.content.decode()
    assert Incident.objects.get(pk=incident.pk).status == "final_report"
    closed = client.post(
        f"/incidents/{incident.pk}/decide/",
        {"decide-approve": "1", "decide-close_with_open_tasks": "on"},
    )
    assert closed.status_code == 302
    assert Incident.objects.get(pk=incident.pk).status == "closed"
    entry = AuditEntry.objects.get(action="incident.closed")
    assert entry.changes["open_tasks"] == ["Collect firewall logs"]


def test_without_open_tasks_the_case_closes_with_no_extra_question(people: People) -> None:
    incident = at_final_report(people)
    page = web("duty").get(f"/incidents/{incident.pk}/").content.decode()
    assert "close_with_open_tasks" not in page
    services.decide_final_report(user("duty"), incident, approve=True)
    assert Incident.objects.get(pk=incident.pk).status == "closed"


def test_evidence_uploads_are_on_the_timeline_and_the_timeline_filters_by_kind(
    people: People,
) -> None:
    incident = reported(people)
    services.add_note(user("reporter"), incident, kind="note", text="Called the vendor.")
    add_evidence(user("reporter"), incident, SimpleUploadedFile("mail.eml", b"From: x\n\nhi"))
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert kinds == ["event", "note", "evidence"]
    client = web("reporter")
    only = client.get(f"/incidents/{incident.pk}/?kind=evidence").content.decode()
    timeline = only.split('id="timeline"')[1].split("</table>")[0]
    assert "Evidence uploaded: mail.eml" in timeline
    assert "Called the vendor." not in timeline
    everything = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Called the vendor." in everything.split('id="timeline"')[1]


def test_my_tasks_lists_my_open_tasks_and_marks_the_overdue(people: People) -> None:
    incident = reported(people)
    services.add_task(
        user("reporter"), incident, title="Rotate passwords", owner=user("reporter"),
        due_at=timezone.now() - timedelta(hours=2),
    )  # fmt: skip
    services.add_task(
        user("reporter"), incident, title="Patch CMS", owner=user("reporter"),
        due_at=timezone.now() + timedelta(hours=2),
    )  # fmt: skip
    page = web("reporter").get("/incidents/tasks/mine/").content.decode()
    assert page.index("Rotate passwords") < page.index("Patch CMS")
    assert page.count('data-overdue="1"') == 1
    assert "Rotate passwords" not in web("duty").get("/incidents/tasks/mine/").content.decode()


# --- The queue ------------------------------------------------------------------------------


def test_the_queue_form_offers_the_url_filters(people: People) -> None:
    page = web("duty").get("/incidents/?rsit_class=fraud&tlp=red&drill=1&clock=overdue").content
    html = page.decode()
    for name in ("rsit_class", "tlp", "drill", "organisation", "clock", "tag", "assignee"):
        assert f'name="{name}"' in html, name
    assert '<option value="fraud" selected>' in html
    assert '<option value="red" selected>' in html
    assert '<option value="overdue" selected>' in html
    # The organisation filter lists only what the viewer may see.
    agency_page = web("reporter").get("/incidents/").content.decode()
    organisation_filter = agency_page.split('id="f-organisation"')[1].split("</select>")[0]
    assert "Bureau" in organisation_filter and "Other bureau" not in organisation_filter


def test_sortable_columns(people: People) -> None:
    low = reported(people, title="Low one")
    high = reported(
        people, title="High one", answers=Answers(confidentiality="minor", secret="national")
    )
    assert (low.level, high.level) == (1, 4)
    client = web("duty")
    ascending = client.get("/incidents/?sort=level").content.decode()
    assert ascending.index("Low one") < ascending.index("High one")
    descending = client.get("/incidents/?sort=-level").content.decode()
    assert descending.index("High one") < descending.index("Low one")
    assert 'aria-sort="descending"' in descending
    # An unknown column is the duty officer's order, never an error.
    assert client.get("/incidents/?sort=password").status_code == 200


def test_assignee_and_my_cases(people: People) -> None:
    mine, theirs = reported(people, title="Mine"), reported(people, title="Not mine")
    client = web("duty")
    assert (
        client.post(
            f"/incidents/{mine.pk}/assign/", {"assign-assignee": user("duty").pk}
        ).status_code
        == 302
    )
    assert Incident.objects.get(pk=mine.pk).assignee == user("duty")
    page = client.get("/incidents/?assignee=me&open=1").content.decode()
    assert "Mine" in page and "Not mine" not in page
    # Only CERT staff are assignees, and only CERT staff assign.
    refused = client.post(
        f"/incidents/{theirs.pk}/assign/", {"assign-assignee": user("reporter").pk}
    )
    assert refused.status_code == 400
    with pytest.raises(Exception, match="not allowed"):
        services.assign_incident(user("reporter"), theirs, user("duty"))


def test_tags_filter_the_queue_and_stay_within_what_one_may_see(people: People) -> None:
    ours = reported(people, title="Ours")
    other = reported(people, who="outsider", title="Other agency's")
    services.set_tags(user("reporter"), ours, services.parse_tags("Ransomware, VPN"))
    services.set_tags(user("outsider"), other, ["ransomware"])
    assert list(ours.tags.values_list("name", flat=True)) == ["ransomware", "vpn"]
    page = web("reporter").get("/incidents/?tag=ransomware").content.decode()
    assert "Ours" in page and "Other agency&#x27;s" not in page and "Other agency's" not in page
    assert len(web("duty").get("/incidents/?tag=ransomware").context["rows"]) == 2
    with pytest.raises(Exception, match="not allowed"):
        services.set_tags(user("reporter"), other, ["mine-now"])


def test_bulk_actions_act_only_on_cases_one_may_act_on(people: People) -> None:
    ours = [reported(people, title=f"Ours {n}") for n in range(2)]
    other = reported(people, who="outsider", title="Foreign case")
    for incident in [*ours, other]:
        services.review_incident(user("duty"), incident, level=incident.level)
    ids = [str(i.pk) for i in [*ours, other]]

    # An agency reporter: the CSV holds only the cases they see; assigning is refused.
    agency = web("reporter")
    exported = agency.post("/incidents/bulk/", {"ids": ids, "action": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))
    assert sorted(r[2] for r in rows[1:]) == ["Ours 0", "Ours 1"]
    agency.post("/incidents/bulk/", {"ids": ids, "action": "respond"})
    assert not Incident.objects.filter(status="responding").exists()
    assert Incident.objects.get(pk=other.pk).assignee is None

    # The CERT: both done, each audited.
    duty = web("duty")
    response = duty.post(
        "/incidents/bulk/", {"ids": ids, "action": "assign", "assignee": user("duty").pk}
    )
    assert response.status_code == 302
    assert Incident.objects.filter(assignee=user("duty")).count() == 3
    assert AuditEntry.objects.filter(action="incident.assigned").count() == 3
    duty.post("/incidents/bulk/", {"ids": ids, "action": "respond"})
    assert Incident.objects.filter(status="responding").count() == 3
    # A second "respond" is refused per case by the workflow, with the reason.
    done, refused = services.bulk_act(user("duty"), [ours[0].pk], "respond")
    assert done == [] and ours[0].reference in refused


def test_bulk_on_ids_an_agency_cannot_see_reports_them_as_not_found(people: People) -> None:
    other = reported(people, who="outsider", title="Foreign case")
    done, refused = services.bulk_act(user("reporter"), [other.pk], "assign", assignee=None)
    assert done == [] and refused == {f"#{other.pk}": "No such incident."}


def test_saved_filters_are_each_persons_own(people: People) -> None:
    client = web("duty")
    response = client.post(
        "/incidents/filters/", {"name": "Overdue L3", "query": "level=3&clock=overdue&page=4"}
    )
    saved = SavedFilter.objects.get()
    assert saved.query == "level=3&clock=overdue"
    assert response["Location"].endswith("?level=3&clock=overdue")
    assert "Overdue L3" in client.get("/incidents/").content.decode()
    assert "Overdue L3" not in web("reporter").get("/incidents/").content.decode()
    assert web("reporter").post(f"/incidents/filters/{saved.pk}/delete/").status_code == 404
    assert client.post(f"/incidents/filters/{saved.pk}/delete/").status_code == 302
    assert not SavedFilter.objects.exists()


def test_case_templates_add_their_tasks_when_the_response_starts(people: People) -> None:
    assert web("reporter").get("/incidents/templates/").status_code == 403
    client = web("duty")
    bad = client.post(
        "/incidents/templates/", {"rsit_class": "intrusions", "tasks": "soon | Isolate"}
    )
    assert bad.status_code == 200 and "Line 1" in bad.content.decode()
    saved = client.post(
        "/incidents/templates/",
        {"rsit_class": "intrusions", "tasks": "4 | Isolate the host\n48 | Reimage\n"},
    )
    assert saved.status_code == 302 and CaseTemplate.objects.get().rsit_class == "intrusions"
    incident = reported(people)
    services.review_incident(user("reviewer"), incident, level=incident.level)
    before = timezone.now()
    services.start_response(user("duty"), incident)
    tasks = list(ResponseTask.objects.filter(incident=incident).order_by("due_at"))
    assert [t.title for t in tasks] == ["Isolate the host", "Reimage"]
    assert all(t.owner == user("duty") for t in tasks)
    assert before + timedelta(hours=4) <= tasks[0].due_at <= timezone.now() + timedelta(hours=4)
    assert Incident.objects.get(pk=incident.pk).assignee == user("duty")
    # A class without a template gets no tasks.
    other = reported(people, rsit_class="fraud", rsit_type="phishing")
    services.review_incident(user("reviewer"), other, level=other.level)
    services.start_response(user("duty"), other)
    assert not ResponseTask.objects.filter(incident=other).exists()


def test_zone_named_in_every_time_of_the_queue(people: People) -> None:
    reported(people)
    page = web("duty").get("/incidents/").content.decode()
    assert "UTC+08:00</time>" in page and 'title="Asia/Taipei"' in page


def test_api_filters_by_tag_and_assignee_within_what_one_may_see(people: People) -> None:
    ours = reported(people, title="Ours")
    other = reported(people, who="outsider", title="Foreign")
    for incident in (ours, other):
        services.set_tags(user("duty"), incident, ["apt"])
        services.assign_incident(user("duty"), incident, user("duty"))
    agency = people.clients["reporter"].get("/api/v1/incidents/?tag=apt").json()
    assert [i["title"] for i in agency["results"]] == ["Ours"]
    cert = people.clients["duty"].get(f"/api/v1/incidents/?assignee={user('duty').pk}").json()
    assert {i["title"] for i in cert["results"]} == {"Ours", "Foreign"}
    assert cert["results"][0]["assignee"] == user("duty").pk
    detail = people.clients["reporter"].get(f"/api/v1/incidents/{ours.pk}/").json()
    assert detail["tags"] == ["apt"]
    assert people.clients["reporter"].get(f"/api/v1/incidents/{other.pk}/").status_code == 404


def test_a_posted_back_query_with_a_line_break_is_re_encoded_not_a_server_error(
    people: People,
) -> None:
    client = web("duty")
    response = client.post("/incidents/bulk/", {"back": "level=3\r\nSet-Cookie: x=1"})
    assert response.status_code == 302
    assert "\n" not in response["Location"] and "level=3" in response["Location"]
    saved = client.post("/incidents/filters/", {"name": "", "query": "a=1\r\nb"})
    assert saved.status_code == 302 and "\n" not in saved["Location"]


def test_observables_carry_tags_set_by_those_who_handle_the_case(people: People) -> None:
    """Issue 18: tags on observables as well as on incidents (as TheHive has them)."""
    ours = reported(people, indicators=[("", "198.51.100.7"), ("", "evil.example")])
    other = reported(people, who="outsider", indicators=[("", "203.0.113.9")])
    address = ours.indicators.get(value="198.51.100.7")
    duty = web("duty")
    answer = duty.post(
        f"/incidents/{ours.pk}/indicator_tags/",
        {"indicator_tags-indicator": address.pk, "indicator_tags-tags": "C2, Cobalt Strike"},
    )
    assert answer.status_code == 302
    address.refresh_from_db()
    assert address.tag_list == ["c2", "cobalt", "strike"]
    page = web("reporter").get(f"/incidents/{ours.pk}/").content.decode()
    assert '<span class="badge tag">c2</span>' in page
    api = people.clients["reporter"].get(f"/api/v1/incidents/{ours.pk}/").json()
    assert {i["value"]: i["tags"] for i in api["indicators"]} == {
        "198.51.100.7": ["c2", "cobalt", "strike"],
        "evil.example": [],
    }
    entry = AuditEntry.objects.filter(action="incident.indicator_tagged").get()
    assert entry.changes["tags"] == [[], ["c2", "cobalt", "strike"]]

    # Another case's observable through this case: refused on the field, nothing changed
    foreign = other.indicators.get()
    refused = duty.post(
        f"/incidents/{ours.pk}/indicator_tags/",
        {"indicator_tags-indicator": foreign.pk, "indicator_tags-tags": "mine"},
    )
    assert refused.status_code == 400
    assert "no such observable" in refused.content.decode()
    foreign.refresh_from_db()
    assert foreign.tags == ""
    # Too many tags: told, nothing saved
    many = " ".join(f"t{n}" for n in range(30))
    too_many = duty.post(
        f"/incidents/{ours.pk}/indicator_tags/",
        {"indicator_tags-indicator": address.pk, "indicator_tags-tags": many},
    )
    assert too_many.status_code == 400 and "At most 20 tags" in too_many.content.decode()
    address.refresh_from_db()
    assert address.tag_list == ["c2", "cobalt", "strike"]
    # Another agency cannot see the case, let alone tag it
    assert (
        web("outsider")
        .post(
            f"/incidents/{ours.pk}/indicator_tags/",
            {"indicator_tags-indicator": address.pk, "indicator_tags-tags": "x"},
        )
        .status_code
        == 404
    )
    with pytest.raises(Exception, match="not allowed"):
        services.set_indicator_tags(user("outsider"), ours, address.pk, ["x"])
