"""The engagement report (PDF, English and Traditional Chinese), read back as text: the
summary, findings by severity with their chart, remediation status and SLA compliance;
and who may download it (the agency its own, its authority, the CERT; nobody else)."""

import io
from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext as _

from bulwark.conftest import sign_in
from bulwark.core.tests.pdftext import pdf_text
from bulwark.findings import report_pdf, services
from bulwark.findings.models import Engagement, Finding
from bulwark.findings.tests.world import World, nessus

pytestmark = pytest.mark.django_db

# who -> (may print the Bureau's, may print Power Co's)
MATRIX = {
    "analyst": (True, True),
    "bureau_reporter": (True, False),
    "power_reporter": (False, True),
    "reviewer": (True, True),  # the Ministry is above both
    "other_reporter": (False, False),
    "nobody": (False, False),
}


@pytest.fixture
def both(world: World) -> tuple[Engagement, Engagement]:
    bureau = world.engagement(title="Bureau pentest")
    power = world.engagement(world.power, title="Power Co scan")
    world.imported(
        bureau,
        nessus({
            "10.1.0.1": [(443, "3001", 4, "CVE-2024-1111"), (22, "3002", 3, "")],
            "10.1.0.2": [(80, "3003", 2, ""), (80, "3004", 3, "")],
        }),
    )  # fmt: skip
    world.imported(power, nessus({"10.2.0.1": [(443, "3101", 3, "CVE-2024-2222")]}))
    fixed = Finding.objects.get(organisation=world.bureau, rule_id="3002")
    services.mark_fixed(world.bureau_reporter, fixed, "Patched", io.BytesIO(b"x"), "e.txt")
    return bureau, power


def test_the_engagement_report_in_english(world: World, both: Any) -> None:
    bureau, _power = both
    text = pdf_text(report_pdf.render(bureau, world.bureau_reporter, "en"))
    assert "Engagement report: Bureau pentest" in text
    assert "Vulnerability scan" in text and "Bureau" in text
    # Four findings: one critical, two high (one fixed, awaiting retest), one medium.
    assert "Findings 4" in text and "Findings still open 3" in text
    assert "Critical 1 1" in text and "High 2 2" in text and "Medium 1 1" in text
    assert "Low 0 0" in text
    assert "Fixed, awaiting retest 1" in text and "Open 3" in text
    # The fixed one was remediated before its deadline: 100 % on time.
    assert "Remediated on time (SLA compliance) 100.0 %" in text
    assert "Plugin 3001" in text and "10.1.0.1:443/tcp" in text
    # Nothing of Power Co's engagement.
    assert "Plugin 3101" not in text and "10.2.0.1" not in text


def test_the_engagement_report_in_traditional_chinese(world: World, both: Any) -> None:
    bureau, _power = both
    text = pdf_text(report_pdf.render(bureau, world.analyst, "zh-hant"))
    with translation.override("zh-hant"):
        title = _("Engagement report: %(title)s") % {"title": "Bureau pentest"}
        heading = _("Findings by severity")
        sla = _("SLA compliance")
    assert title != "Engagement report: Bureau pentest" and title in text
    assert heading in text and sla in text
    assert "Findings by severity" not in text


def test_the_chart_is_inline_svg_of_the_counts(world: World, both: Any) -> None:
    bureau, _power = both
    with translation.override("en"):
        rows = report_pdf.severity_rows(Finding.objects.filter(engagement=bureau))
        chart = report_pdf.severity_chart(rows)
    assert [(r.key, r.found, r.active) for r in rows] == [
        ("critical", 1, 1), ("high", 2, 2), ("medium", 1, 1), ("low", 0, 0), ("info", 0, 0)
    ]  # fmt: skip
    assert chart.startswith("data:image/svg+xml;base64,")


def test_who_may_print_which_engagement(world: World, both: Any) -> None:
    for who, sees in MATRIX.items():
        client = sign_in(Client(), getattr(world, who))
        for engagement, may in zip(both, sees, strict=True):
            response = client.get(f"/findings/engagements/{engagement.pk}/report.pdf?lang=en")
            assert response.status_code == (200 if may else 404), (who, engagement.title)
            if may:
                assert response["Content-Type"] == "application/pdf"
                assert engagement.title in pdf_text(response.content)


def test_the_engagement_page_links_its_report(world: World, both: Any) -> None:
    bureau, _power = both
    client = sign_in(Client(), world.bureau_reporter)
    page = client.get(f"/findings/engagements/{bureau.pk}/").content.decode()
    assert f"/findings/engagements/{bureau.pk}/report.pdf?lang=en" in page
    assert f"/findings/engagements/{bureau.pk}/report.pdf?lang=zh-Hant" in page
    bad = client.get(f"/findings/engagements/{bureau.pk}/report.pdf?lang=fr")
    assert bad.status_code == 400 and b"en or zh-Hant" in bad.content
