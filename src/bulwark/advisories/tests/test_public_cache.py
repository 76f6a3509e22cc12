"""The public feeds and CSAF documents are rendered once and served from the cache until
the public set changes; readers that already hold the current copy get 304."""

import json
from collections.abc import Iterator
from typing import Any

import feedparser
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bulwark.advisories import services
from bulwark.advisories.models import Advisory
from bulwark.advisories.tests.world import World

FEEDS = ["/publications/feed.rss", "/publications/feed.atom", "/publications/feed.json"]


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alert(world: World) -> Advisory:
    return world.sent(
        tlp="clear", publication="alert", title="First alert", target_organisations=[world.bureau]
    )


def titles(response: Any) -> set[str]:
    if response["Content-Type"].startswith("application/feed+json"):
        return {item["title"] for item in json.loads(response.content)["items"]}
    return {entry.title for entry in feedparser.parse(response.content).entries}


@pytest.mark.parametrize("path", FEEDS)
def test_a_second_read_is_served_from_the_cache(alert: Advisory, client: Client, path: str) -> None:
    first = client.get(path)
    with CaptureQueriesContext(connection) as queries:
        second = client.get(path)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    # One aggregate over the public set decides whether the copy is current; rendering
    # the feed reads the items, their revisions and categories.
    assert len(queries) == 1, [q["sql"] for q in queries]


@pytest.mark.parametrize("path", FEEDS)
def test_publishing_reaches_a_cached_feed(
    world: World, alert: Advisory, client: Client, path: str
) -> None:
    assert titles(client.get(path)) == {"First alert"}
    world.sent(tlp="clear", publication="news", title="Second", target_organisations=[world.bureau])
    world.sent(tlp="amber", title="Amber stays out", target_organisations=[world.bureau])
    assert titles(client.get(path)) == {"First alert", "Second"}


@pytest.mark.parametrize("path", FEEDS)
def test_an_approved_revision_reaches_a_cached_feed(
    world: World, alert: Advisory, client: Client, path: str
) -> None:
    assert titles(client.get(path)) == {"First alert"}
    services.update_advisory(world.analyst, alert, note="Retitled.", title="Renamed alert")
    assert titles(client.get(path)) == {"First alert"}, "a pending revision is not public"
    services.approve_revision(world.duty, alert.revisions.get())
    assert titles(client.get(path)) == {"Renamed alert"}


@pytest.mark.parametrize("path", FEEDS)
def test_conditional_get_answers_304_until_something_is_published(
    world: World, alert: Advisory, client: Client, path: str
) -> None:
    first = client.get(path)
    etag, modified = first["ETag"], first["Last-Modified"]
    assert "max-age=60" in first["Cache-Control"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag
    assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
    world.sent(tlp="clear", publication="news", title="Second", target_organisations=[world.bureau])
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert "Second" in titles(changed)


def test_each_language_and_kind_is_its_own_copy(
    world: World, alert: Advisory, client: Client
) -> None:
    world.sent(
        tlp="clear",
        publication="news",
        title="News item",
        title_zh_hant="新聞",
        target_organisations=[world.bureau],
    )
    english = client.get("/publications/feed.atom?lang=en")
    chinese = client.get("/publications/feed.atom?lang=zh-hant")
    news = client.get("/publications/feed.atom?lang=en&kind=news")
    assert titles(english) == {"First alert", "News item"}
    assert "新聞" in titles(chinese)
    assert titles(news) == {"News item"}
    assert len({english["ETag"], chinese["ETag"], news["ETag"]}) == 3
    # An English ETag does not make the Chinese feed "not modified".
    assert (
        client.get(
            "/publications/feed.atom?lang=zh-hant", headers={"If-None-Match": english["ETag"]}
        ).status_code
        == 200
    )


def test_the_cached_copy_names_its_canonical_address_not_a_readers_query(
    alert: Advisory, client: Client
) -> None:
    odd = client.get('/publications/feed.json?lang=en&utm="><script>x</script>')
    plain = client.get("/publications/feed.json?lang=en")
    assert odd.content == plain.content
    assert json.loads(plain.content)["feed_url"].endswith("/publications/feed.json?lang=en")


def test_csaf_is_cached_and_follows_a_revision(
    world: World, alert: Advisory, client: Client
) -> None:
    path = f"/publications/{alert.reference}/csaf.json"
    first = client.get(path)
    assert first.status_code == 200 and first.json()["document"]["tracking"]["version"] == "1"
    assert client.get(path, headers={"If-None-Match": first["ETag"]}).status_code == 304
    services.update_advisory(world.analyst, alert, note="Fixed.", recommended_actions="Upgrade.")
    services.approve_revision(world.duty, alert.revisions.get())
    second = client.get(path, headers={"If-None-Match": first["ETag"]})
    assert second.status_code == 200 and second.json()["document"]["tracking"]["version"] == "2"
    assert second["Content-Disposition"] == first["Content-Disposition"]


def test_feeds_rendered_at_start_are_served_without_rendering(
    alert: Advisory, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bulwark.advisories import public

    assert public.warm_feeds() == 3 * len(public.LANGUAGES)

    def must_not_render(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("rendered again")

    monkeypatch.setattr(public, "_feed", must_not_render)
    monkeypatch.setattr(public, "_json_feed", must_not_render)
    for path in FEEDS:
        for language in ("en", "zh-hant"):
            response = client.get(path, {"lang": language})
            assert response.status_code == 200 and titles(response) == {"First alert"}
