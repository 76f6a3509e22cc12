"""Pulled feeds and the country table have a page for CERT staff (issue 21: before, an
operator needed the shell, and nothing was audited): list, add, change, delete, each
change audited; others do not find the pages; a changed country routes at once."""

from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.test import Client

from bulwark.conftest import sign_in
from bulwark.constituency.models import User
from bulwark.core.models import AuditEntry
from bulwark.exchange import services
from bulwark.exchange.models import ColumnMapping, CountryNetwork, Feed
from bulwark.exchange.routing import current_router


def page(username: str) -> Client:
    return sign_in(Client(), User.objects.get(username=username))


def actions(prefix: str) -> list[str]:
    return list(
        AuditEntry.objects.filter(action__startswith=prefix)
        .order_by("seq")
        .values_list("action", flat=True)
    )


FEED = {
    "name": "scan-ntp",
    "url": "https://reports.example/scan_ntp.csv",
    "format": "shadowserver",
    "mapping": "",
    "interval_minutes": "1440",
    "enabled": "on",
}


def test_staff_add_change_and_delete_a_feed_on_its_page(constituency: Any) -> None:
    client = page("analyst")
    assert 'id="feed-form"' in client.get("/exchange/feeds/").content.decode()
    assert client.post("/exchange/feeds/", FEED).status_code == 302
    feed = Feed.objects.get(name="scan-ntp")
    assert feed.interval_minutes == 1440 and feed.enabled and feed.format == "shadowserver"
    listed = client.get("/exchange/feeds/").content.decode()
    assert "https://reports.example/scan_ntp.csv" in listed
    # Change it: the form is filled in from the feed; what changed is in the audit entry.
    editing = client.get(f"/exchange/feeds/?edit={feed.pk}").content.decode()
    assert 'value="https://reports.example/scan_ntp.csv"' in editing
    changed = {**FEED, "interval_minutes": "60"}
    del changed["enabled"]  # an unticked box
    assert client.post(f"/exchange/feeds/?edit={feed.pk}", changed).status_code == 302
    feed.refresh_from_db()
    assert feed.interval_minutes == 60 and not feed.enabled and Feed.objects.count() == 1
    entry = AuditEntry.objects.get(action="exchange.feed.changed")
    assert entry.changes == {"interval_minutes": 60, "enabled": False}
    assert client.post("/exchange/feeds/", {"delete": feed.pk}).status_code == 302
    assert not Feed.objects.exists()
    assert actions("exchange.feed.") == [
        "exchange.feed.created",
        "exchange.feed.changed",
        "exchange.feed.deleted",
    ]


def test_a_bad_feed_is_refused_on_its_field(constituency: Any) -> None:
    client = page("analyst")
    refused = client.post("/exchange/feeds/", {**FEED, "url": "ftp://reports.example/x.csv"})
    assert refused.status_code == 400 and not Feed.objects.exists()
    refused = client.post("/exchange/feeds/", {**FEED, "format": "", "mapping": "nonesuch"})
    assert refused.status_code == 400
    assert "No saved column mapping has that name." in refused.content.decode()
    ColumnMapping.objects.create(name="nonesuch", columns={"source.ip": "ip"})
    assert (
        client.post("/exchange/feeds/", {**FEED, "format": "", "mapping": "nonesuch"}).status_code
        == 302
    )
    again = client.post("/exchange/feeds/", FEED)  # the same name twice
    assert again.status_code == 400 and Feed.objects.count() == 1


def test_staff_keep_the_country_table_and_routing_follows(constituency: Any) -> None:
    client = page("analyst")
    jp = constituency["JPCERT/CC"].pk
    kr = constituency["KrCERT/CC"].pk
    assert current_router().route({"source.ip": "192.0.2.44"}).recipient == jp
    table = client.get("/exchange/country-networks/").content.decode()
    assert "192.0.2.0/24" in table and 'id="country-network-form"' in table
    network = CountryNetwork.objects.get(value="192.0.2.0/24")
    moved = client.post(
        f"/exchange/country-networks/?edit={network.pk}",
        {"kind": "cidr", "value": "192.0.2.0/24", "country": "kr"},
    )
    assert moved.status_code == 302
    assert CountryNetwork.objects.get(value="192.0.2.0/24").country == "KR"
    assert current_router().route({"source.ip": "192.0.2.44"}).recipient == kr
    # An AS written as "AS64515" is kept as its number; a host bit is dropped from a prefix.
    client.post("/exchange/country-networks/", {"kind": "asn", "value": "AS64515", "country": "JP"})
    client.post(
        "/exchange/country-networks/", {"kind": "cidr", "value": "100.64.1.7/24", "country": "US"}
    )
    assert CountryNetwork.objects.filter(kind="asn", value="64515", country="JP").exists()
    assert CountryNetwork.objects.filter(kind="cidr", value="100.64.1.0/24").exists()
    for bad in (
        {"kind": "cidr", "value": "192.0.2.300/24", "country": "JP"},
        {"kind": "asn", "value": "ASX", "country": "JP"},
        {"kind": "cidr", "value": "198.51.100.0/24", "country": "XX"},
        {"kind": "cidr", "value": "198.51.100.0/24", "country": "JP"},  # already listed
    ):
        assert client.post("/exchange/country-networks/", bad).status_code == 400
    assert CountryNetwork.objects.get(value="198.51.100.0/24").country == "KR"
    gone = CountryNetwork.objects.get(value="64515")
    assert client.post("/exchange/country-networks/", {"delete": gone.pk}).status_code == 302
    assert not CountryNetwork.objects.filter(value="64515").exists()
    assert actions("exchange.country_network.") == [
        "exchange.country_network.changed",
        "exchange.country_network.created",
        "exchange.country_network.created",
        "exchange.country_network.deleted",
    ]
    change = AuditEntry.objects.get(action="exchange.country_network.changed").changes
    assert change["before"]["country"] == "JP" and change["after"]["country"] == "KR"


@pytest.mark.parametrize("username", ["reporter", "orgadmin", "jpcert"])
def test_others_do_not_find_the_pages_nor_change_anything(constituency: Any, username: str) -> None:
    client = page(username)
    network = CountryNetwork.objects.first()
    assert network is not None
    for url in ("/exchange/feeds/", "/exchange/country-networks/"):
        assert client.get(url).status_code == 404
    assert client.post("/exchange/feeds/", FEED).status_code == 404
    assert client.post("/exchange/country-networks/", {"delete": network.pk}).status_code == 404
    assert not Feed.objects.exists() and CountryNetwork.objects.filter(pk=network.pk).exists()
    with pytest.raises(PermissionDenied):
        services.save_feed(User.objects.get(username=username), None, **{**FEED, "enabled": True})
    with pytest.raises(PermissionDenied):
        services.delete_country_network(User.objects.get(username=username), network)


def test_the_pages_speak_traditional_chinese(constituency: Any) -> None:
    client = page("analyst")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    feeds = client.get("/exchange/feeds/").content.decode()
    assert "定期擷取的來源" in feeds and "新增來源" in feeds
    table = client.get("/exchange/country-networks/").content.decode()
    assert "國家對照表" in table and "新增網路" in table
