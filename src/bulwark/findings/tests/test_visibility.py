"""Who sees which engagement and finding, on every read path: pages, CSV export, API,
command line. CERT staff see all; an agency its own; an authority its agencies'."""

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from bulwark.conftest import bearer, sign_in
from bulwark.findings import selectors, services
from bulwark.findings.models import Finding, ScanImport
from bulwark.findings.tests.world import World, nessus

pytestmark = pytest.mark.django_db

# who -> (sees the Bureau's, sees Power Co's)
MATRIX = {
    "analyst": (True, True),
    "bureau_reporter": (True, False),
    "power_reporter": (False, True),
    "reviewer": (True, True),  # the Ministry is above both
    "other_reporter": (False, False),
    "nobody": (False, False),
}


@pytest.fixture
def both(world: World) -> dict[str, Any]:
    bureau_e = world.engagement(title="Bureau pentest")
    power_e = world.engagement(world.power, title="Power Co scan")
    world.imported(bureau_e, nessus({"10.1.0.1": [(443, "3001", 3, "CVE-2024-1111")]}))
    world.imported(power_e, nessus({"10.2.0.1": [(443, "3002", 3, "CVE-2024-1111")]}))
    bureau_f = Finding.objects.get(organisation=world.bureau)
    power_f = Finding.objects.get(organisation=world.power)
    services.mark_fixed(world.bureau_reporter, bureau_f, "Done", io.BytesIO(b"x"), "e.txt")
    return {
        "engagements": (bureau_e, power_e),
        "findings": (bureau_f, power_f),
        "scans": (
            ScanImport.objects.get(engagement=bureau_e),
            ScanImport.objects.get(engagement=power_e),
        ),
    }


def test_pages_and_export(world: World, both: dict[str, Any]) -> None:
    for who in sorted(MATRIX):
        pages_and_export(world, both, sign_in(Client(), getattr(world, who)), who)


def pages_and_export(world: World, both: dict[str, Any], client: Client, who: str) -> None:
    for index, sees in enumerate(MATRIX[who]):
        finding = both["findings"][index]
        engagement = both["engagements"][index]
        scan = both["scans"][index]
        expected = 200 if sees else 404
        assert client.get(f"/findings/{finding.pk}/").status_code == expected
        assert client.get(f"/findings/engagements/{engagement.pk}/").status_code == expected
        assert client.get(f"/findings/imports/{scan.pk}/").status_code == expected
        assert client.get(f"/findings/imports/{scan.pk}/file/").status_code == expected
        listing = client.get("/findings/list/?status=").content.decode()
        assert (f'data-finding="{finding.pk}"' in listing) is sees
        engagements = client.get("/findings/engagements/").content.decode()
        assert (f'data-engagement="{engagement.pk}"' in engagements) is sees
        export = b"".join(client.get("/findings/list/?status=&format=csv").streaming_content)
        assert (finding.title.encode() in export and finding.host.encode() in export) is sees
    event = both["findings"][0].events.get(kind="fixed")
    evidence = client.get(f"/findings/{both['findings'][0].pk}/evidence/{event.pk}/")
    assert evidence.status_code == (200 if MATRIX[who][0] else 404)
    dashboard = client.get("/findings/")
    assert dashboard.status_code == 200
    open_count = int(dashboard.content.decode().split('id="open-total">')[1].split("<")[0])
    assert open_count == sum(MATRIX[who])
    home = client.get("/").content.decode()  # the home page's card counts the same rows
    assert int(home.split('id="count-open-findings">')[1].split("<")[0]) == sum(MATRIX[who])


def test_api(world: World, both: dict[str, Any], client: Client) -> None:
    for who in sorted(MATRIX):
        api(world, both, client, who)


def api(world: World, both: dict[str, Any], client: Client, who: str) -> None:
    headers = bearer(getattr(world, who), ["findings:read"])
    listed = client.get("/api/v1/findings/?status=", **headers).json()["results"]
    engagements = client.get("/api/v1/engagements/", **headers).json()["results"]
    scans = client.get("/api/v1/scan-imports/", **headers).json()["results"]
    for index, sees in enumerate(MATRIX[who]):
        finding = both["findings"][index]
        assert (finding.pk in {f["id"] for f in listed}) is sees
        assert (both["engagements"][index].pk in {e["id"] for e in engagements}) is sees
        assert (both["scans"][index].pk in {s["id"] for s in scans}) is sees
        detail = client.get(f"/api/v1/findings/{finding.pk}/", **headers)
        assert detail.status_code == (200 if sees else 404)
        decisions = client.get(f"/api/v1/findings/{finding.pk}/decisions/", **headers)
        assert decisions.status_code == (200 if sees else 404)


def test_command_line_listing(world: World, both: dict[str, Any]) -> None:
    for who, seen in MATRIX.items():
        out = io.StringIO()
        call_command("findings", "engagements", "--user", getattr(world, who).username, stdout=out)
        lines = out.getvalue().splitlines()[1:]
        ids = {int(line.split("\t")[0]) for line in lines}
        for index, sees in enumerate(seen):
            assert (both["engagements"][index].pk in ids) is sees, who


def test_api_writes_need_the_write_scope_and_the_rule(
    world: World, both: dict[str, Any], client: Client
) -> None:
    bureau_f, _power_f = both["findings"]
    read_only = bearer(world.analyst, ["findings:read"])
    answer = client.post(
        f"/api/v1/findings/{bureau_f.pk}/retest/", {"passed": True}, "application/json",
        **read_only,
    )  # fmt: skip
    assert answer.status_code == 403
    agency = bearer(world.bureau_admin, ["findings:read", "findings:write"])
    answer = client.post(
        f"/api/v1/findings/{bureau_f.pk}/retest/", {"passed": True}, "application/json", **agency
    )
    assert answer.status_code == 403
    cert = bearer(world.analyst, ["findings:read", "findings:write"])
    answer = client.post(
        f"/api/v1/findings/{bureau_f.pk}/retest/", {"passed": True}, "application/json", **cert
    )
    assert answer.status_code == 200 and answer.json()["status"] == "closed"


def test_agencies_with_open_findings_for_an_advisorys_cves(
    world: World, both: dict[str, Any]
) -> None:
    class Advisory:  # what the advisory page's panel reads: its CVE list
        cves = [{"id": "cve-2024-1111", "cvss_score": 9.8}, {"id": "CVE-2020-0001"}]

    for who, (sees_bureau, sees_power) in MATRIX.items():
        rows = selectors.advisory_panel(getattr(world, who), Advisory())
        names = {r["name"] for r in rows}
        assert ("Bureau" in names, "Power Co" in names) == (sees_bureau, sees_power), who
    # a closed finding no longer counts
    services.retest(world.analyst, both["findings"][0], passed=True)
    assert {r["name"] for r in selectors.advisory_panel(world.analyst, Advisory())} == {"Power Co"}


def test_dashboard_names_only_an_organisation_the_reader_may_see(world: World) -> None:
    """`?organisation=` of another agency shows neither its name nor its figures."""
    page = sign_in(Client(), world.other_reporter).get(f"/findings/?organisation={world.power.pk}")
    assert page.status_code == 200
    assert world.power.name not in page.content.decode()
    own = sign_in(Client(), world.power_reporter).get(f"/findings/?organisation={world.power.pk}")
    assert world.power.name in own.content.decode()
