"""A finding becomes an incident (issue 23, "Links"): the button on the finding's page and
the API call `incidents.services.report_incident` once; the finding names its incident
and the incident's page lists the finding, each for those who may read the other."""

from typing import Any

import pytest
from django.test import Client

from bulwark.conftest import bearer, sign_in
from bulwark.core.models import AuditEntry
from bulwark.findings.models import EventKind, Finding
from bulwark.findings.tests.world import World, nessus
from bulwark.incidents.models import Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def finding(world: World) -> Finding:
    engagement = world.engagement(title="Bureau pentest")
    world.imported(engagement, nessus({"10.1.0.1": [(443, "3001", 4, "CVE-2024-1111")]}))
    return Finding.objects.get(organisation=world.bureau)


def test_the_cert_reports_a_finding_as_an_incident_once(world: World, finding: Finding) -> None:
    client = sign_in(Client(), world.analyst)
    page = client.get(f"/findings/{finding.pk}/").content.decode()
    assert 'id="report-incident"' in page

    answer = client.post(f"/findings/{finding.pk}/report-incident/")

    incident = Incident.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/incidents/{incident.pk}/"
    assert incident.organisation == world.bureau
    assert incident.rsit_class == "vulnerable" and incident.rsit_type == "vulnerable-system"
    assert "CVE-2024-1111" in incident.description and f"F-{finding.pk}" in incident.description
    assert incident.affected_systems == "10.1.0.1:443/tcp"
    assert list(incident.indicators.values_list("kind", "value")) == [("ipv4", "10.1.0.1")]
    finding.refresh_from_db()
    assert finding.incident == incident
    assert finding.events.filter(kind=EventKind.INCIDENT).count() == 1
    entry = AuditEntry.objects.get(action="findings.incident_reported")
    assert entry.actor == world.analyst and entry.changes == {"incident": incident.reference}

    # the finding's page links the incident; the incident's page lists the finding
    page = client.get(f"/findings/{finding.pk}/").content.decode()
    assert f'href="/incidents/{incident.pk}/"' in page and 'id="report-incident"' not in page
    case = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="source-findings"' in case and f'href="/findings/{finding.pk}/"' in case

    # a second click (a stale page, another tab) shows the same incident, nothing new
    again = client.post(f"/findings/{finding.pk}/report-incident/", follow=True)
    assert Incident.objects.count() == 1
    assert again.redirect_chain[-1][0] == f"/incidents/{incident.pk}/"
    assert "already reported as incident" in again.content.decode()
    assert AuditEntry.objects.filter(action="findings.incident_reported").count() == 1


def test_who_may_report_and_who_sees_the_link(world: World, finding: Finding) -> None:
    # the agency's reporter may report its own finding
    reporter = sign_in(Client(), world.bureau_reporter)
    assert 'id="report-incident"' in reporter.get(f"/findings/{finding.pk}/").content.decode()
    # the authority's reviewer reads the finding but does not report for the agency
    reviewer = sign_in(Client(), world.reviewer)
    page = reviewer.get(f"/findings/{finding.pk}/").content.decode()
    assert 'id="report-incident"' not in page
    assert reviewer.post(f"/findings/{finding.pk}/report-incident/").status_code == 403
    # who cannot read the finding gets no page and reports nothing
    for outsider in (world.power_reporter, world.other_reporter, world.nobody):
        client = sign_in(Client(), outsider)
        assert client.post(f"/findings/{finding.pk}/report-incident/").status_code == 404
    assert not Incident.objects.exists()

    assert reporter.post(f"/findings/{finding.pk}/report-incident/").status_code == 302
    incident = Incident.objects.get()
    assert incident.reported_by == world.bureau_reporter
    # the incident's page lists the finding for those who read both ...
    for who in (world.analyst, world.bureau_reporter, world.bureau_admin):
        case = sign_in(Client(), who).get(f"/incidents/{incident.pk}/").content.decode()
        assert f'href="/findings/{finding.pk}/"' in case, who
    # ... and nobody outside the agency reads either
    for who in (world.power_reporter, world.other_reporter):
        assert sign_in(Client(), who).get(f"/incidents/{incident.pk}/").status_code == 404


def test_the_api_reports_once(world: World, finding: Finding) -> None:
    client = Client()
    headers: Any = bearer(world.analyst, ["findings:read", "findings:write"])
    first = client.post(f"/api/v1/findings/{finding.pk}/incident/", **headers)
    assert first.status_code == 201, first.content
    second = client.post(f"/api/v1/findings/{finding.pk}/incident/", **headers)
    assert second.status_code == 200
    assert first.json()["incident"] == second.json()["incident"]
    assert first.json()["created"] and not second.json()["created"]
    assert Incident.objects.count() == 1
    detail = client.get(f"/api/v1/findings/{finding.pk}/", **headers).json()
    assert detail["incident"] == first.json()["incident"]
    # an outsider's token finds no such finding
    other = bearer(world.other_reporter, ["findings:read", "findings:write"])
    assert client.post(f"/api/v1/findings/{finding.pk}/incident/", **other).status_code == 404
