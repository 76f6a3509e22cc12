"""The anonymous public's journey in a real Chromium on a phone (issue 18): the public
advisories list and one advisory in English and in Traditional Chinese, its CSAF document,
the CSAF provider metadata and the three feeds, at 390 px wide without scrolling sideways;
a TLP:AMBER advisory appears nowhere.

Needs Debian's `chromium`; skipped without it unless BULWARK_REQUIRE_BROWSER=1."""

import json
from collections.abc import Callable
from typing import Any

import feedparser  # type: ignore[import-untyped,unused-ignore]
import pytest

from bulwark.advisories.models import Advisory
from bulwark.advisories.tests.world import World

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
TITLE = "Critical flaw in Example HTTP Server with a rather long title that has to wrap"
TITLE_ZH = "範例伺服器的嚴重漏洞"
SECRET = "Amber only: not for the public"


@pytest.fixture
def published(live_server: Any) -> dict[str, Advisory]:
    world = World()
    alert = world.sent(
        tlp="clear",
        publication="alert",
        title=TITLE,
        title_zh_hant=TITLE_ZH,
        summary_zh_hant="請立即更新。",
        target_organisations=[world.bureau],
    )
    amber = world.sent(tlp="amber", title=SECRET, target_organisations=[world.bureau])
    return {"alert": alert, "amber": amber}


def overflow(page: Any) -> int:
    """How many pixels the page is wider than the screen (0 when it fits)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def fits(page: Any) -> None:
    assert page.locator("main h1").is_visible(), page.url
    assert overflow(page) <= 0, f"{page.url} is {overflow(page)} px wider than a phone"


def test_public_reads_advisories_csaf_and_feeds_on_a_phone(
    new_page: Callable[[], Any], live_server: Any, published: dict[str, Advisory]
) -> None:
    base = live_server.url
    alert, amber = published["alert"], published["amber"]
    page = new_page()
    page.set_viewport_size(PHONE)

    # The list, in English, then the advisory.
    page.goto(f"{base}/publications/")
    fits(page)
    assert page.locator("html").get_attribute("lang") == "en"
    listing = page.locator("#publications").inner_text()
    assert TITLE in listing and SECRET not in listing
    with page.expect_navigation():
        page.locator("#publications a", has_text=alert.reference).click()
    fits(page)
    assert page.locator("main h1").inner_text() == f"{alert.reference}: {TITLE}"

    # The CSAF document the page links to is the advisory's, as JSON.
    csaf_href = page.locator("#csaf-link").get_attribute("href")
    answer = page.request.get(base + csaf_href)
    assert answer.status == 200 and "json" in answer.headers["content-type"]
    document = json.loads(answer.text())["document"]
    assert document["tracking"]["id"] == alert.reference
    assert document["title"] == TITLE
    assert document["distribution"]["tlp"]["label"] == "WHITE"  # CSAF 2.0 names TLP 1.0

    # The same advisory in Traditional Chinese, chosen from the page's own switch.
    with page.expect_navigation():
        page.locator("header nav a[hreflang=zh-Hant]").click()
    fits(page)
    assert page.locator("html").get_attribute("lang") == "zh-hant"
    assert page.locator("main h1").inner_text() == f"{alert.reference}: {TITLE_ZH}"
    assert "請立即更新。" in page.locator("main").inner_text()
    with page.expect_navigation():
        page.locator("header .brand").click()
    fits(page)
    assert TITLE_ZH in page.locator("#publications").inner_text()

    # The feeds the page advertises parse and carry the advisory, never the AMBER one.
    feeds = page.locator("head link[rel=alternate]")
    hrefs = [feeds.nth(i).get_attribute("href") for i in range(feeds.count())]
    assert len(hrefs) == 3, hrefs
    for href in hrefs:
        answer = page.request.get(base + href)
        assert answer.status == 200, href
        text = answer.text()
        assert SECRET not in text and amber.reference not in text, href
        if "json" in answer.headers["content-type"]:
            items = json.loads(text)["items"]
            titles = [item["title"] for item in items]
        else:
            parsed = feedparser.parse(text)
            assert not parsed.bozo, (href, parsed.bozo_exception)
            titles = [entry.title for entry in parsed.entries]
        assert TITLE_ZH in titles, (href, titles)  # the page's language carries over

    # The CSAF provider metadata: where CSAF tools start (CSAF 2.0 section 7.1.7).
    answer = page.request.get(f"{base}/.well-known/csaf/provider-metadata.json")
    assert answer.status == 200
    metadata = json.loads(answer.text())
    assert metadata["canonical_url"].endswith("/.well-known/csaf/provider-metadata.json")
    assert metadata["role"] in {"csaf_publisher", "csaf_provider", "csaf_trusted_provider"}

    # The AMBER advisory has no public page.
    answer = page.goto(f"{base}/publications/{amber.reference}/")
    assert answer is not None and answer.status == 404
