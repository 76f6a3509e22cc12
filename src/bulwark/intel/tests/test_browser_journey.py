"""Intel sharing in a real Chromium (issue 18, the ISAC member's and the CERT analyst's
journeys): a member shares a report with a defanged URL and a warning-listed address, plus
a TLP:AMBER+STRICT one; the analyst reviews them on /intel/review/ seeing values (not STIX
ids) and the warning-list flag, and publishes; a member of another organisation finds the
URL's value page by pasting the defanged text, and does not see the AMBER+STRICT value,
which a colleague of the sharer does see.

Needs Debian's `chromium`; skipped without it unless BULWARK_REQUIRE_BROWSER=1."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import browser_sign_in
from bulwark.constituency.models import User
from bulwark.intel.models import StixObject
from bulwark.intel.tests.conftest import Community

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery 9"  # as UserFactory sets it
DEFANGED = "hxxp://evil[.]example/x"
URL = "http://evil.example/x"
WARNED = "8.8.8.8"  # on the bundled warning lists (public DNS resolvers)
STRICT = "203.0.113.99"


def sign_in(page: Any, base: str, user: User, device: TOTPDevice | None = None) -> Any:
    return browser_sign_in(page, base, user.username, PASSWORD, device)


def share(page: Any, base: str, text: str, tlp: str = "") -> str:
    """Shares `text` as a plain list into the community collection; the submission page."""
    page.goto(f"{base}/intel/")
    page.get_by_role("link", name="Share intelligence", exact=True).click()
    page.wait_for_url(f"{base}/intel/share/")
    page.select_option("#collection", label="Community")
    page.select_option("#format", "plain")
    if tlp:
        page.select_option("#tlp", label=tlp)
    page.fill("#text", text)
    with page.expect_navigation():
        page.get_by_role("button", name="Share", exact=True).click()
    assert re.search(r"/intel/submissions/\d+/$", page.url), page.locator("main").inner_text()
    return str(page.locator("ul.messages").inner_text())


def test_share_review_publish_and_see_only_what_one_may(
    new_page: Callable[[], Any], live_server: Any, community: Community
) -> None:
    base = live_server.url
    community.community.requires_review = True
    community.community.save()

    # 1. An ISAC member shares a report as people paste it: defanged, with a resolver.
    member = sign_in(new_page(), base, community.sharer)
    assert "Stored 2, refused 0" in share(member, base, f"{DEFANGED}\n{WARNED}\n", tlp="TLP:GREEN")
    assert "Stored 1, refused 0" in share(member, base, STRICT, tlp="TLP:AMBER+STRICT")

    # 2. The analyst reviews values, not ids, sees the warning-list flag, and publishes.
    device = TOTPDevice.objects.create(user=community.analyst, name="phone", confirmed=True)
    analyst = sign_in(new_page(), base, community.analyst, device)
    analyst.goto(f"{base}/intel/review/")
    rows = analyst.locator("#pending tbody tr[data-stix-id]")
    assert rows.count() == 3
    url_row = analyst.locator("#pending tbody tr", has_text=URL)
    assert url_row.count() == 1
    assert url_row.locator("ul.values").inner_text().strip() == f"URL {URL}"
    assert url_row.locator(".warninglist").count() == 0
    assert community.authority.name in url_row.inner_text()
    warned = analyst.locator("#pending tbody tr", has_text=WARNED)
    assert warned.locator(".warninglist").count() >= 1, warned.inner_text()
    strict = analyst.locator("#pending tbody tr", has_text=STRICT)
    assert "TLP:AMBER+STRICT" in strict.inner_text()
    value_href = url_row.locator("ul.values a").get_attribute("href")
    for i in range(rows.count()):
        rows.nth(i).locator("input[type=checkbox]").check()
    with analyst.expect_navigation():
        analyst.get_by_role("button", name="Publish", exact=True).click()
    assert "3 objects reviewed." in analyst.locator("ul.messages").inner_text()
    assert "Nothing awaits review." in analyst.locator("#pending").inner_text()
    assert not StixObject.objects.filter(status="pending").exists()

    # 3. A member of another organisation pastes the defanged URL and lands on its page.
    other = sign_in(new_page(), base, community.other_user)
    other.goto(f"{base}/intel/")
    other.fill("#q", DEFANGED)
    with other.expect_navigation():
        other.get_by_role("button", name="Look up", exact=True).click()
    assert other.url == base + value_href, other.url
    assert URL in other.locator("main h1").inner_text()
    assert community.authority.name in other.locator("main").inner_text()  # the source
    # ... but the AMBER+STRICT value stays with the sharer's organisation.
    answer = other.goto(f"{base}/intel/values/ipv4/{STRICT}")
    assert answer is not None and answer.status == 404
    other.goto(f"{base}/intel/")
    assert STRICT not in other.locator("main").inner_text()
    assert URL in other.locator("main").inner_text()

    # The sharer's colleague does see it: the 404 above is the marking, not a broken page.
    colleague = sign_in(new_page(), base, community.colleague)
    answer = colleague.goto(f"{base}/intel/values/ipv4/{STRICT}")
    assert answer is not None and answer.status == 200
    assert STRICT in colleague.locator("main h1").inner_text()
