"""Time to remediate from the CERT's first record; the hosts and ports a scan covered,
including a host found clean; affected assets matched to the agency's inventory."""

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from bulwark.advisories import services as advisories
from bulwark.advisories.models import InventoryItem
from bulwark.conftest import bearer, sign_in
from bulwark.core.models import AuditEntry
from bulwark.findings import selectors, services
from bulwark.findings.models import Finding, FindingStatus, ScannedService
from bulwark.findings.tests.test_engine_parsers import clean_copy, raw
from bulwark.findings.tests.world import World

pytestmark = pytest.mark.django_db
DOJO = Path(__file__).parent / "corpus" / "defectdojo"
CVSS3 = DOJO / "nessus" / "nessus_with_cvssv3.nessus.gz"
UNKNOWN = DOJO / "nessus" / "nessus_v_unknown.xml.gz"


def test_time_to_remediate_counts_from_the_import_not_the_scan_date(world: World) -> None:
    """nessus_v_unknown was scanned in July 2013: counted from that date, a finding fixed
    today took over 4,000 days; the CERT recorded it ten days ago."""
    engagement = world.engagement()
    ten_days_ago = timezone.now() - timedelta(days=10)
    with UNKNOWN.open("rb") as handle:
        services.import_scan(world.analyst, engagement, handle, UNKNOWN.name, now=ten_days_ago)
    finding = Finding.objects.exclude(severity="info").order_by("pk").first()
    assert finding is not None
    assert finding.first_seen.year == 2013
    assert abs((finding.recorded_at - ten_days_ago).total_seconds()) < 1
    services.mark_fixed(world.bureau_reporter, finding, "Patched.")
    services.retest(world.analyst, finding, passed=True)

    board = selectors.dashboard(Finding.objects.visible_to(world.analyst))
    assert board.mean_days_to_remediate == pytest.approx(10.0, abs=0.1)
    page = sign_in(Client(), world.bureau_admin).get(f"/findings/{finding.pk}/")
    assert "First recorded" in page.content.decode()


def test_nessus_hosts_and_ports_are_the_engagements_services(world: World) -> None:
    engagement = world.engagement()
    with UNKNOWN.open("rb") as handle:
        result = services.import_scan(world.analyst, engagement, handle, UNKNOWN.name)
    text = raw(UNKNOWN).decode()
    hosts = {h.lower() for h in re.findall(r'<ReportHost name="([^"]+)"', text)}
    rows = ScannedService.objects.filter(engagement=engagement)
    assert {r.host for r in rows.filter(port=0)} == hosts
    assert rows.get(host="qa3app09", port=80, protocol="tcp").service == "www"
    assert rows.get(host="qa3app09", port=0).product.startswith("Microsoft Windows Server 2008")
    assert result.services == rows.exclude(port=0).count() > 0
    # the same file again: the same rows, seen again
    before = set(rows.values_list("pk", flat=True))
    with UNKNOWN.open("rb") as handle:
        services.import_scan(world.analyst, engagement, handle, UNKNOWN.name)
    assert (
        set(ScannedService.objects.filter(engagement=engagement).values_list("pk", flat=True))
        == before
    )
    # listed on the engagement's page and in the API, for those who see the engagement
    page = sign_in(Client(), world.bureau_reporter).get(f"/findings/engagements/{engagement.pk}/")
    assert 'id="scanned-hosts"' in page.content.decode() and "qa3app09" in page.content.decode()
    api = Client().get(
        f"/api/v1/engagements/{engagement.pk}/services/",
        **bearer(world.bureau_reporter, ["findings:read"]),
    )
    assert api.status_code == 200 and len(api.json()) == rows.count()
    outsider = Client().get(
        f"/api/v1/engagements/{engagement.pk}/services/",
        **bearer(world.other_reporter, ["findings:read"]),
    )
    assert outsider.status_code == 404


def test_a_host_found_clean_mitigates_its_old_findings(world: World) -> None:
    """The real file, then the same host scanned again with nothing left to report: its
    findings are mitigated (before, a host without a single item was not known to have
    been scanned at all)."""
    engagement = world.engagement()
    with CVSS3.open("rb") as handle:
        first = services.import_scan(world.analyst, engagement, handle, CVSS3.name)
    assert first.new > 0
    clean = clean_copy(CVSS3, "testphp.vulnweb.com")
    again = services.import_scan(world.analyst, engagement, io.BytesIO(clean), "clean.nessus")
    assert again.ok, again.error
    assert again.new == 0 and again.mitigated == first.new
    assert not Finding.objects.filter(status=FindingStatus.OPEN).exists()
    assert again.scan.hosts == ["testphp.vulnweb.com"]
    # a partial scan of the clean host mitigates nothing
    engagement2 = world.engagement(title="Second")
    with CVSS3.open("rb") as handle:
        services.import_scan(world.analyst, engagement2, handle, CVSS3.name)
    partial = services.import_scan(
        world.analyst, engagement2, io.BytesIO(clean), "clean.nessus", full_rescan=False
    )
    assert partial.mitigated == 0


def test_a_finding_links_to_the_matching_inventory_product(world: World) -> None:
    engagement = world.engagement()
    with CVSS3.open("rb") as handle:
        services.import_scan(world.analyst, engagement, handle, CVSS3.name)
    nginx = Finding.objects.filter(organisation=world.bureau, title__icontains="nginx").first()
    assert nginx is not None
    item = advisories.add_inventory_item(
        world.bureau_admin, world.bureau, vendor="F5", product="nginx", version="1.19.0"
    )
    advisories.add_inventory_item(
        world.bureau_admin, world.bureau, vendor="Apache", product="Tomcat"
    )
    assert selectors.inventory_matches(world.bureau_reporter, nginx) == [item]
    # another agency's member neither sees the product nor links it
    assert selectors.inventory_matches(world.other_reporter, nginx) == []

    client = sign_in(Client(), world.bureau_reporter)
    page = client.get(f"/findings/{nginx.pk}/").content.decode()
    assert 'id="inventory-form"' in page
    answer = client.post(f"/findings/{nginx.pk}/link-inventory/", {"inventory_item": item.pk})
    assert answer.status_code == 302
    nginx.refresh_from_db()
    assert nginx.inventory_item == item
    assert AuditEntry.objects.filter(action="findings.inventory_linked").count() == 1
    assert 'id="finding-inventory"' in client.get(f"/findings/{nginx.pk}/").content.decode()
    # a product of another agency is refused with a message, not linked
    foreign = InventoryItem.objects.create(organisation=world.power, vendor="f5", product="nginx")
    client.post(f"/findings/{nginx.pk}/link-inventory/", {"inventory_item": foreign.pk})
    nginx.refresh_from_db()
    assert nginx.inventory_item == item


@pytest.mark.parametrize(
    ("folder", "name", "hosts", "ports", "findings"),
    [
        # many_vuln: one host, 14 distinct ports among the report's 44 result ports
        ("openvas", "many_vuln.xml", {"192.168.1.1001"}, 14, 44),
        # one site, no alert: the site is an engagement's asset all the same
        ("zap", "empty_2.9.0.xml", {"isaac.nl"}, 1, 0),
        # 86 alert instances, 71 problems once the URLs lose their query strings
        ("zap", "juicy2.xml", {"juice-shop.herokuapp.com"}, 1, 71),
        # 127.0.0.1 up with every scanned port closed: a scanned host, no service
        ("nmap", "nmap_0port.xml", {"127.0.0.1"}, 0, 0),
    ],
)
def test_openvas_zap_and_nmap_hosts_are_the_engagements_services(
    world: World, folder: str, name: str, hosts: set[str], ports: int, findings: int
) -> None:
    engagement = world.engagement()
    path = DOJO / folder / name
    with path.open("rb") as handle:
        result = services.import_scan(world.analyst, engagement, handle, name)
    assert result.ok, result.error
    rows = ScannedService.objects.filter(engagement=engagement)
    assert {r.host for r in rows} == hosts
    assert rows.exclude(port=0).count() == result.services == ports
    assert Finding.objects.filter(engagement=engagement).count() == findings


def test_a_zap_site_scanned_clean_mitigates_its_old_findings(world: World) -> None:
    """A full re-scan of the same site that finds nothing marks the site's ZAP findings
    mitigated: the site is known to be covered even with no alert."""
    engagement = world.engagement(kind="pentest")
    text = (DOJO / "zap" / "juicy2.xml").read_text()
    world.imported(engagement, text.encode(), "juicy2.xml")
    assert Finding.objects.filter(status="open").count() == 71
    start, end = text.index("<alerts>"), text.index("</alerts>")
    clean = text[: start + len("<alerts>")] + text[end:]
    result = world.imported(engagement, clean.encode(), "juicy2-clean.xml")
    assert result.ok, result.error
    assert result.mitigated == 71
    assert not Finding.objects.filter(status="open").exists()
