"""A stored file gone from BULWARK_MEDIA_DIR (a restore without the files) answers 404 with
a message that says so, not a server error, and logs no download that did not happen."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from bulwark.constituency import services as cs
from bulwark.constituency.models import User
from bulwark.core.models import AuditEntry
from bulwark.incidents import services
from bulwark.incidents.evidence import storage
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import CustodyEvent, Incident
from bulwark.incidents.services import add_evidence, report_incident
from bulwark.incidents.tests.test_evidence_referral_alerts import web
from bulwark.incidents.tests.test_journey import People


@pytest.fixture(autouse=True)
def _private_files(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.SIGNING_KEY_FILE = tmp_path / "signing-key.pem"


@pytest.fixture
def people(db: None) -> People:
    return People()


@pytest.fixture
def incident(people: People) -> Incident:
    return report_incident(
        User.objects.get(username="reporter"), people.agency, title="Intrusion", description="d",
        rsit_class="intrusions", rsit_type="system-compromise", answers=Answers(integrity="minor"),
        aware_at=timezone.now() - timedelta(minutes=10),
    )  # fmt: skip


def test_missing_referral_package_is_404_with_a_message(
    people: People,
    incident: Incident,
) -> None:
    lea = cs.create_organisation(None, name="Investigation Bureau", kind="lea", country="TW")
    duty = User.objects.get(username="duty")
    referral = services.refer(duty, incident, lea)
    Path(storage().path(referral.storage_name)).unlink()
    response = web("duty").get(f"/incidents/{incident.pk}/referrals/{referral.pk}/package/")
    assert response.status_code == 404
    assert "missing" in response.content.decode() and referral.storage_name in (
        response.content.decode()
    )
    assert not AuditEntry.objects.filter(action="referral.downloaded").exists()


def test_missing_evidence_file_is_404_and_fails_verification(
    people: People,
    incident: Incident,
) -> None:
    reporter = User.objects.get(username="reporter")
    item = add_evidence(reporter, incident, SimpleUploadedFile("disk.img", b"image" * 100))
    Path(storage().path(item.storage_name)).chmod(0o640)
    Path(storage().path(item.storage_name)).unlink()
    client = web("reporter")
    response = client.get(f"/incidents/{incident.pk}/evidence/{item.pk}/download/")
    assert response.status_code == 404 and "missing" in response.content.decode()
    assert not CustodyEvent.objects.filter(evidence=item, action="downloaded").exists()
    checked = client.post(f"/incidents/{incident.pk}/evidence/{item.pk}/verify/")
    assert checked.status_code < 500
    note = CustodyEvent.objects.get(evidence=item, action="verified").note
    assert "MISSING" in note


def test_referring_a_case_whose_evidence_file_is_gone_is_refused_with_a_message(
    people: People,
    incident: Incident,
) -> None:
    lea = cs.create_organisation(None, name="Investigation Bureau", kind="lea", country="TW")
    item = add_evidence(
        User.objects.get(username="reporter"), incident, SimpleUploadedFile("mail.eml", b"x" * 50)
    )
    Path(storage().path(item.storage_name)).chmod(0o640)
    Path(storage().path(item.storage_name)).unlink()
    response = web("duty").post(
        f"/incidents/{incident.pk}/referrals/", {"referral-organisation": lea.pk}
    )
    assert response.status_code == 400
    assert item.storage_name in response.content.decode()
    assert not incident.referrals.exists()
