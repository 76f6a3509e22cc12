"""On a phone (390 px wide) the pages people use in the field never scroll sideways: wide
tables scroll inside their own box and the header wraps (issue 18: tables overflowed to
900-1,200 px and the header text became unreadable)."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.constituency.models import User
from bulwark.incidents import services
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import Incident
from bulwark.incidents.tests.test_browser_journey import sign_in
from bulwark.incidents.tests.test_journey import People

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def people(live_server: Any) -> People:
    return People()


def overflow(page: Any) -> int:
    """How many pixels the page is wider than the screen (0 when it fits)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


# Words (letters and digits) in table cells that the browser broke across lines.
BROKEN_WORDS = """() => {
  const broken = [];
  for (const cell of document.querySelectorAll("main table td, main table th")) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/[\\p{L}\\p{N}]+/gu)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


def test_field_pages_fit_a_phone(
    new_page: Callable[[], Any], live_server: Any, people: People
) -> None:
    for n in range(3):
        services.report_incident(
            User.objects.get(username="reporter"),
            organisation=people.agency,
            title=f"Ransomware on the file server of the regional office number {n}",
            description="Files encrypted; ransom note on every share. " * 5,
            rsit_class="malicious-code",
            rsit_type="infected-system",
            aware_at=timezone.now() - timedelta(minutes=30 + n),
            answers=Answers(availability="serious"),
        )
    incident_pk = Incident.objects.order_by("pk").values_list("pk", flat=True)[0]
    device = TOTPDevice.objects.create(
        user=User.objects.get(username="duty"), name="phone", confirmed=True
    )
    base = live_server.url
    page = sign_in(new_page(), base, "duty", device)
    page.set_viewport_size(PHONE)
    for path in [
        "/",
        "/incidents/",
        f"/incidents/{incident_pk}/",
        "/incidents/new/",
        "/stats/",
        "/stats/?group=incidents",
        "/monitoring/alerts/",
    ]:
        page.goto(base + path)
        assert page.locator("main h1").is_visible(), path
        assert overflow(page) <= 0, f"{path} is {overflow(page)} px wider than a phone"
        brand = page.locator(".topbar .brand").bounding_box()
        assert brand is not None and brand["x"] >= 0 and brand["x"] + brand["width"] <= 390

    # A wide table scrolls in its own box with whole words; it does not squeeze its
    # columns to a letter each (main's overflow-wrap:anywhere once did, issue 21).
    for path in ["/incidents/", "/organisations/"]:
        page.goto(base + path)
        table = page.locator("main table").first
        assert table.evaluate("t => t.scrollWidth > t.clientWidth"), f"{path}: table fits"
        broken = page.evaluate(BROKEN_WORDS)
        assert not broken, f"{path}: words broken across lines in the table: {broken[:10]}"
