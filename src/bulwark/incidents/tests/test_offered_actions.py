"""Forms offer only what the person may do (issue 18: "a reporter sees CERT guidance"):
the timeline's kinds on the incident page follow the role, and the server still refuses
guidance from anyone outside the CERT. The page also names the RSIT class and type in
the reader's language instead of the taxonomy's codes."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bulwark.conftest import sign_in
from bulwark.constituency.models import User
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import Incident, TimelineEntry
from bulwark.incidents.services import report_incident
from bulwark.incidents.tests.test_journey import People


@pytest.fixture
def incident(db: None) -> Incident:
    people = People()
    return report_incident(
        User.objects.get(username="reporter"), people.agency, title="Intrusion", description="d",
        rsit_class="intrusions", rsit_type="system-compromise", answers=Answers(integrity="minor"),
        aware_at=timezone.now() - timedelta(minutes=10),
    )  # fmt: skip


def note_kinds(page: str) -> list[str]:
    select = re.search(r'<select name="note-kind"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None
    return re.findall(r'<option value="([^"]+)"', select.group(1))


def web(username: str) -> Client:
    return sign_in(Client(), User.objects.get(username=username))


def test_only_the_cert_is_offered_guidance_and_only_the_cert_may_give_it(
    incident: Incident,
) -> None:
    path = f"/incidents/{incident.pk}/"
    reporter = web("reporter").get(path).content.decode()
    assert "guidance" not in note_kinds(reporter)
    note_form = re.search(r'<select name="note-kind".*?</select>', reporter, re.S)
    assert note_form is not None and "CERT guidance" not in note_form.group(0)
    # (the timeline's filter may still name the kind: a reporter reads the CERT's guidance)
    assert "note" in note_kinds(reporter)
    assert "guidance" in note_kinds(web("duty").get(path).content.decode())
    # Sent anyway (an old page, a crafted form): refused, nothing recorded.
    refused = web("reporter").post(
        f"/incidents/{incident.pk}/note/", {"note-kind": "guidance", "note-text": "do X"}
    )
    assert refused.status_code in (400, 403)
    assert not TimelineEntry.objects.filter(incident=incident, kind="guidance").exists()


def test_the_rsit_class_and_type_read_in_the_reader_language(incident: Incident) -> None:
    client = web("reporter")
    english = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Intrusions / System compromise" in english
    client.cookies["django_language"] = "zh-hant"
    chinese = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "入侵 / 系統遭入侵" in chinese and "Intrusions / System compromise" not in chinese
