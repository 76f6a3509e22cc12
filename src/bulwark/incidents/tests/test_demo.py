"""The demo shows the case-work features (issue 18): the CERT's case templates applied
to the cases whose response started, tags on cases and on their observables, the duty
officer's saved filter and assignee, and loading it again adds nothing."""

import pytest
from django.test import Client

from bulwark.conftest import sign_in
from bulwark.constituency import demo as constituency_demo
from bulwark.constituency.models import User
from bulwark.incidents import demo
from bulwark.incidents.models import CaseTemplate, Incident, IncidentTag, SavedFilter


@pytest.mark.django_db
def test_the_demo_shows_templates_tags_saved_filters_and_assignees() -> None:
    constituency_demo.load()
    assert demo.load() == len(demo.CASES)
    assert set(CaseTemplate.objects.values_list("rsit_class", flat=True)) == set(demo.TEMPLATES)
    ransomware = Incident.objects.get(title="Ransomware on an engineering workstation")
    # its response started under the malicious-code template: its three tasks, assigned
    assert ransomware.tasks.count() == 3
    assert ransomware.assignee is not None and ransomware.assignee.username == "duty"
    assert sorted(ransomware.tags.values_list("name", flat=True)) == ["ot-network", "ransomware"]
    vpn = Incident.objects.get(title="Compromised VPN appliance")
    assert {i.value: i.tag_list for i in vpn.indicators.all()} == {
        "198.51.100.23": ["c2", "vpn-exploit"],
        "vpn-update.example": ["phishing-kit"],
    }
    duty = User.objects.get(username="duty")
    (saved,) = SavedFilter.objects.filter(user=duty)
    queue = sign_in(Client(), duty).get("/incidents/?" + saved.query)
    assert queue.status_code == 200
    counts = (
        CaseTemplate.objects.count(),
        IncidentTag.objects.count(),
        SavedFilter.objects.count(),
    )
    assert demo.load() == 0
    assert counts == (
        CaseTemplate.objects.count(),
        IncidentTag.objects.count(),
        SavedFilter.objects.count(),
    )
