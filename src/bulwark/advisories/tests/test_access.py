"""Access matrix: role x TLP x read path (page, list, API detail, API list, public page,
feeds, CSAF, e-mail). An agency sees only what was sent to it, and public CLEAR items;
a non-CLEAR advisory never appears on a public path."""

from typing import Any

import pytest
from django.test import Client

from bulwark.advisories.models import Advisory, Delivery
from bulwark.advisories.tests.world import World
from bulwark.conftest import bearer, sign_in
from bulwark.constituency.models import Contact

SCOPES = ["advisories:read", "advisories:write"]
TLPS = ["clear", "green", "amber", "amber+strict", "red"]
PUBLIC_PATHS = [
    "/publications/",
    "/publications/feed.rss",
    "/publications/feed.atom",
    "/publications/feed.json",
    "/publications/?lang=zh-hant",
    "/publications/feed.rss?kind=alert",
]


def build(world: World) -> dict[str, Advisory]:
    """One advisory per TLP sent to Bureau, one public CLEAR alert sent to Power Co, and a
    draft nobody outside the CERT may see."""
    made = {
        tlp: world.sent(tlp=tlp, title=f"Advisory {tlp}", target_organisations=[world.bureau])
        for tlp in TLPS
    }
    made["public"] = world.sent(
        tlp="clear", publication="alert", title="Public alert", target_organisations=[world.power]
    )
    made["draft"] = world.draft(tlp="clear", title="Draft", target_organisations=[world.bureau])
    return made


# role -> the keys of `build` it may read on the signed-in paths
EXPECTED = {
    "analyst": {*TLPS, "public", "draft"},
    "admin": {*TLPS, "public", "draft"},
    "bureau_admin": {*TLPS, "public"},
    "bureau_reporter": {"clear", "green", "amber", "amber+strict", "public"},
    "reviewer": {"public"},  # the Ministry supervises Bureau but was not sent these
    "other_reporter": {"public"},
    "nobody": {"public"},
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_signed_in_read_paths(world: World, role: str) -> None:
    made = build(world)
    user = getattr(world, role)
    page = sign_in(Client(), user)
    api = Client(**bearer(user, SCOPES, within_role=True))
    expected = EXPECTED[role]
    assert {
        k for k, a in made.items() if Advisory.objects.visible_to(user).filter(pk=a.pk).exists()
    } == expected
    listed_api = {
        a["reference"] for a in api.get("/api/v1/advisories/?limit=100").json()["results"]
    }
    listing = page.get("/advisories/").content.decode()
    inbox = {
        t["advisory"] for t in api.get("/api/v1/advisory-targets/?limit=100").json()["results"]
    }
    assert inbox <= {made[k].reference for k in expected}
    for key, advisory in made.items():
        allowed = key in expected
        assert (page.get(f"/advisories/{advisory.pk}/").status_code == 200) is allowed, key
        assert (api.get(f"/api/v1/advisories/{advisory.pk}/").status_code == 200) is allowed, key
        assert (advisory.reference in listed_api) is allowed, key
        if key != "public":  # the inbox lists what was sent to you; public ones are elsewhere
            shown = f">{advisory.reference}<" in listing
            assert shown is (allowed and role not in {"reviewer", "other_reporter", "nobody"}), key


def test_anonymous_sees_only_public_clear_items_on_every_public_path(world: World) -> None:
    made = build(world)
    anonymous = Client()
    for advisory in made.values():
        assert anonymous.get(f"/advisories/{advisory.pk}/").status_code == 302  # to login
        assert anonymous.get(f"/api/v1/advisories/{advisory.pk}/").status_code in (401, 403)
    for path in PUBLIC_PATHS:
        body = anonymous.get(path).content.decode()
        assert made["public"].reference in body, path
        for key in (*TLPS, "draft"):
            assert made[key].reference not in body, (path, key)
            assert f"Advisory {key}" not in body, (path, key)
    for key, advisory in made.items():
        detail = anonymous.get(f"/publications/{advisory.reference}/")
        csaf = anonymous.get(f"/publications/{advisory.reference}/csaf.json")
        assert (detail.status_code, csaf.status_code) == (
            (200, 200) if key == "public" else (404, 404)
        ), key


def test_email_reaches_only_the_targets_contacts(world: World) -> None:
    made = build(world)
    bureau_contacts = set(
        Contact.objects.filter(organisation=world.bureau).values_list("email", flat=True)
    )
    for tlp in TLPS:
        emails = set(
            Delivery.objects.filter(target__advisory=made[tlp]).values_list("email", flat=True)
        )
        assert emails and emails <= bureau_contacts - {"abuse@bureau.example.org"}, tlp
    assert not Delivery.objects.filter(target__advisory=made["draft"]).exists()


def test_a_token_without_the_advisory_scope_is_refused(world: World) -> None:
    made = build(world)
    client = Client(**bearer(world.bureau_reporter, ["constituency:read"]))
    assert client.get(f"/api/v1/advisories/{made['amber'].pk}/").status_code == 403


def test_counts_on_pages_never_reveal_hidden_rows(world: World, client: Any) -> None:
    build(world)
    page = sign_in(client, world.other_reporter).get("/advisories/")
    assert "(0 in all)" in page.content.decode()
