"""Public publications: pages without login in both languages, RSS 2.0 / Atom / JSON Feed
read back with feedparser, CSAF 2.0 validated against the vendored OASIS schema, and
script injection neutralised on every public rendering path."""

import json
from pathlib import Path
from typing import Any

import feedparser
import jsonschema
import pytest
from django.test import Client
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT7

from bulwark.advisories import services
from bulwark.advisories.models import Advisory
from bulwark.advisories.tests.world import World

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
HOSTILE = (
    "Read this.\n\n<script>alert('feed')</script>\n\n[x](javascript:alert(1))\n\n"
    '<img src=x onerror="alert(2)">'
)


def csaf_validator() -> jsonschema.protocols.Validator:
    def load(name: str) -> Any:
        return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))

    registry: Registry = Registry()
    for name, spec in (
        ("cvss-v2.0.json", DRAFT4),
        ("cvss-v3.0.json", DRAFT4),
        ("cvss-v3.1.json", DRAFT7),
    ):
        resource = Resource.from_contents(load(name), default_specification=spec)
        registry = registry.with_resource(f"https://www.first.org/cvss/{name}", resource)
    schema = load("csaf_json_schema.json")
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)


@pytest.fixture
def published(world: World) -> dict[str, Advisory]:
    alert = world.sent(
        tlp="clear",
        publication="alert",
        title="Example httpd flaw",
        body=HOSTILE,
        title_zh_hant="範例伺服器漏洞",
        summary_zh_hant="請立即更新。",
        target_organisations=[world.bureau],
    )
    news = world.sent(
        tlp="clear",
        publication="news",
        title="Monthly news",
        cves=[],
        affected_products=[],
        response_required="none",
        response_deadline=None,
        target_organisations=[world.bureau],
    )
    guide = world.sent(
        tlp="clear",
        publication="guideline",
        title="Hardening guide",
        cves=[],
        affected_products=[{"vendor": "example", "product": "httpd"}],
        response_required="none",
        response_deadline=None,
        target_all=True,
    )
    amber = world.sent(tlp="amber", title="Amber only", target_organisations=[world.bureau])
    return {"alert": alert, "news": news, "guide": guide, "amber": amber}


def test_public_pages_need_no_login_and_speak_both_languages(
    published: dict[str, Advisory], client: Client
) -> None:
    alert = published["alert"]
    english = client.get(f"/publications/{alert.reference}/")
    chinese = client.get(f"/publications/{alert.reference}/?lang=zh-hant")
    assert english.status_code == chinese.status_code == 200
    assert "Example httpd flaw" in english.content.decode()
    assert (
        "範例伺服器漏洞" in chinese.content.decode() and "請立即更新。" in chinese.content.decode()
    )
    assert '<html lang="zh-hant">' in chinese.content.decode()
    listing = client.get("/publications/?kind=news").content.decode()
    assert "Monthly news" in listing and "Example httpd flaw" not in listing


def test_pages_advertise_feeds_and_link_the_csaf_document(
    published: dict[str, Advisory], client: Client
) -> None:
    for path in ("/publications/", f"/publications/{published['alert'].reference}/"):
        page = client.get(path).content.decode()
        for kind in ("application/rss+xml", "application/atom+xml", "application/feed+json"):
            assert f'<link rel="alternate" type="{kind}"' in page, (path, kind)
    detail = client.get(f"/publications/{published['alert'].reference}/").content.decode()
    assert f"/publications/{published['alert'].reference}/csaf.json" in detail


@pytest.mark.parametrize("path", ["feed.rss", "feed.atom"])
def test_feeds_parse_with_feedparser_and_carry_no_script(
    published: dict[str, Advisory], client: Client, path: str
) -> None:
    response = client.get(f"/publications/{path}")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == ("rss20" if path == "feed.rss" else "atom10")
    titles = {entry.title for entry in parsed.entries}
    assert titles == {"Example httpd flaw", "Monthly news", "Hardening guide"}
    assert "Amber only" not in response.content.decode()
    alert = next(e for e in parsed.entries if e.title == "Example httpd flaw")
    assert alert.link.endswith(f"/publications/{published['alert'].reference}/")
    assert_inert(alert.summary)


def test_json_feed(published: dict[str, Advisory], client: Client) -> None:
    """JSON Feed 1.1 (feedparser 6 reads only XML feeds, so the structure is checked here)."""
    response = client.get("/publications/feed.json")
    assert response["Content-Type"] == "application/feed+json"
    feed = json.loads(response.content)
    assert feed["version"] == "https://jsonfeed.org/version/1.1" and feed["title"]
    assert {i["title"] for i in feed["items"]} == {
        "Example httpd flaw",
        "Monthly news",
        "Hardening guide",
    }
    for item in feed["items"]:
        assert {"id", "url", "content_html", "date_published"} <= set(item)
        assert item["attachments"][0]["url"].endswith("/csaf.json")
    alert = next(i for i in feed["items"] if i["title"] == "Example httpd flaw")
    assert_inert(alert["content_html"])


def assert_inert(html: str) -> None:
    """The hostile Markdown arrives as text: no element, link or handler that runs."""
    assert "Read this." in html
    for needle in ("<script", 'href="javascript', "<img"):
        assert needle not in html, needle


def test_chinese_feed(published: dict[str, Advisory], client: Client) -> None:
    parsed = feedparser.parse(client.get("/publications/feed.atom?lang=zh-hant").content)
    assert "範例伺服器漏洞" in {e.title for e in parsed.entries}


def test_public_web_page_neutralises_script(published: dict[str, Advisory], client: Client) -> None:
    page = client.get(f"/publications/{published['alert'].reference}/").content.decode()
    assert "Read this." in page
    assert (
        "<script>alert" not in page and 'href="javascript' not in page and "<img src=x" not in page
    )


def test_csaf_documents_validate_against_the_csaf_schema(
    world: World, published: dict[str, Advisory], client: Client
) -> None:
    validator = csaf_validator()
    services.update_advisory(
        world.analyst,
        published["alert"],
        note="Fixed in 2.4.60.",
        recommended_actions="Upgrade to **2.4.60**.",
    )
    services.approve_revision(world.duty, published["alert"].revisions.get())
    for key in ("alert", "news", "guide"):
        for lang in ("en", "zh-hant"):
            response = client.get(f"/publications/{published[key].reference}/csaf.json?lang={lang}")
            assert response.status_code == 200
            document = response.json()
            errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
            assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    alert = client.get(f"/publications/{published['alert'].reference}/csaf.json").json()
    assert alert["document"]["category"] == "csaf_security_advisory"
    assert alert["document"]["tracking"]["version"] == "2"
    assert [r["number"] for r in alert["document"]["tracking"]["revision_history"]] == ["1", "2"]
    score = alert["vulnerabilities"][0]["scores"][0]["cvss_v3"]
    assert score["baseScore"] == 9.8 and score["baseSeverity"] == "CRITICAL"
    news = client.get(f"/publications/{published['news'].reference}/csaf.json").json()
    assert news["document"]["category"] == "csaf_informational_advisory"


def test_the_validator_does_refuse_broken_documents(
    published: dict[str, Advisory], client: Client
) -> None:
    document = client.get(f"/publications/{published['alert'].reference}/csaf.json").json()
    document["document"]["distribution"]["tlp"]["label"] = "AMBER+STRICT"
    del document["document"]["tracking"]["id"]
    assert len(list(csaf_validator().iter_errors(document))) >= 2


def test_non_clear_never_exported(published: dict[str, Advisory], client: Client) -> None:
    assert client.get(f"/publications/{published['amber'].reference}/csaf.json").status_code == 404
