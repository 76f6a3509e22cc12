"""The recipient list is exactly right for each kind of targeting, and the preview is
exactly the list that receives the advisory."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from bulwark.advisories import services
from bulwark.advisories.models import InventoryItem
from bulwark.advisories.tests.world import World


def names(advisory: object) -> set[str]:
    return {org.name for org, _reason in services.preview(advisory)}  # type: ignore[arg-type]


def test_all_agencies(world: World) -> None:
    advisory = world.draft(target_all=True)
    # Agencies, CI operators and authorities; not the CERT, the ISAC, a foreign CERT, or an
    # inactive agency.
    assert names(advisory) == {
        "Ministry",
        "Sub-authority",
        "Bureau",
        "Office",
        "Power Co",
        "Grid Co",
        "Bank",
        "Other agency",
    }


def test_sector(world: World) -> None:
    assert names(world.draft(target_sectors=[world.energy])) == {"Power Co", "Grid Co"}
    assert names(world.draft(target_sectors=[world.finance])) == {"Bank", "Finance ISAC"}


def test_authority_tree_includes_every_level_below(world: World) -> None:
    assert names(world.draft(target_authorities=[world.ministry])) == {
        "Ministry",
        "Sub-authority",
        "Bureau",
        "Office",
        "Power Co",
    }
    assert names(world.draft(target_authorities=[world.sub])) == {"Sub-authority", "Office"}


def test_explicit_organisations(world: World) -> None:
    advisory = world.draft(target_organisations=[world.bureau, world.grid, world.closed])
    assert names(advisory) == {"Bureau", "Grid Co"}  # the inactive one is left out


def test_inventory_honours_version_ranges(world: World) -> None:
    def own(org: object, **item: str) -> None:
        services.add_inventory_item(world.admin, org, **item)  # type: ignore[arg-type]

    own(world.bureau, vendor="Example", product="httpd", version="2.4.58")  # in range
    own(world.power, cpe="cpe:2.3:a:example:httpd:2.4.60:*:*:*:*:*:*:*")  # fixed version
    own(world.grid, cpe="cpe:2.3:a:example:httpd:*:*:*:*:*:*:*:*")  # version unknown
    own(world.bank, vendor="example", product="mail", version="2.4.1")  # other product
    own(world.office, vendor="example", product="httpd", version="2.3.9")  # below the range
    own(world.other, vendor="example", product="httpd", version="2.4.0")  # lower bound
    advisory = world.draft(target_inventory=True)
    preview = dict((org.name, reason) for org, reason in services.preview(advisory))
    assert set(preview) == {"Bureau", "Grid Co", "Other agency"}
    assert "2.4.58" in preview["Bureau"] and "version unknown" in preview["Grid Co"]


def test_union_of_kinds_and_preview_equals_sent_targets(world: World) -> None:
    services.add_inventory_item(world.admin, world.bank, vendor="example", product="httpd")
    advisory = world.draft(
        target_sectors=[world.energy],
        target_authorities=[world.sub],
        target_organisations=[world.other],
        target_inventory=True,
    )
    expected = {"Power Co", "Grid Co", "Sub-authority", "Office", "Other agency", "Bank"}
    assert names(advisory) == expected
    services.submit(world.analyst, advisory)
    services.approve(world.duty, advisory)
    services.send(world.duty, advisory)
    assert set(advisory.targets.values_list("organisation__name", flat=True)) == expected


def test_inventory_is_managed_by_the_organisations_admins_only(world: World) -> None:
    item = services.add_inventory_item(
        world.bureau_admin, world.bureau, vendor="Example Corp", product="Web Server"
    )
    assert (item.vendor, item.product) == ("example_corp", "web_server")
    with pytest.raises(PermissionDenied):
        services.add_inventory_item(world.bureau_reporter, world.bureau, vendor="a", product="b")
    with pytest.raises(PermissionDenied):
        services.add_inventory_item(world.bureau_admin, world.power, vendor="a", product="b")
    with pytest.raises(ValidationError):
        services.add_inventory_item(world.bureau_admin, world.bureau, cpe="cpe:2.3:a:broken")
    with pytest.raises(PermissionDenied):
        services.remove_inventory_item(world.power_reporter, item)
    services.remove_inventory_item(world.bureau_admin, item)
    assert not InventoryItem.objects.exists()
