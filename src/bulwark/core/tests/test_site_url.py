"""Absolute addresses come from BULWARK_SITE_URL, never from the request's Host header
(which whoever sends the request chooses: a forged one would put their host in a feed,
an e-mail or a TAXII client's next request)."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from bulwark.conftest import run_queued_tasks
from bulwark.constituency.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
SITE = "https://cert.example.tw"
FORGED = {"HTTP_HOST": "localhost", "HTTP_X_FORWARDED_HOST": "attacker.example"}


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = SITE
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]


def test_taxii_discovery_names_the_configured_api_root(client: Client) -> None:
    response = client.get("/taxii2/", HTTP_ACCEPT="application/taxii+json;version=2.1", **FORGED)
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["default"] == f"{SITE}/taxii2/api/"
    assert body["api_roots"] == [f"{SITE}/taxii2/api/"]


@pytest.mark.parametrize("feed", ["feed.rss", "feed.atom", "feed.json"])
def test_advisory_feeds_link_to_the_configured_site(client: Client, feed: str) -> None:
    response = client.get(f"/publications/{feed}", **FORGED)
    assert response.status_code == 200
    text = response.content.decode()
    assert SITE in text
    assert "localhost" not in text and "attacker.example" not in text


def test_password_reset_mail_links_to_the_configured_site(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    UserFactory(username="carol", email="carol@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password-reset/", {"email": "carol@example.org"}, **FORGED)
    run_queued_tasks()
    assert len(mail.outbox) == 1
    links = re.findall(r"https?://[^\s\"']+", mail.outbox[0].body)
    assert links and all(link.startswith(SITE + "/") for link in links)


def test_no_view_builds_addresses_from_the_request() -> None:
    """A new `build_absolute_uri` would take the host from the request again."""
    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "tests" not in path.parts
        and re.search(r"build_absolute_uri|get_current_site", path.read_text())
    ]
    assert offenders == []
