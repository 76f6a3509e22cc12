"""Who an advisory goes to: the union of its targeting choices, resolved to organisations.

The preview and the sending both call `resolve`, so the preview is exactly the list that
will receive it."""

from collections import defaultdict

from django.db.models import Q
from django.utils.translation import gettext as _

from bulwark.advisories import matching
from bulwark.advisories.models import Advisory, InventoryItem
from bulwark.constituency.models import Organisation, OrganisationKind

# "All agencies": the organisations with an agency's duties.
AGENCY_KINDS = [
    OrganisationKind.GOVERNMENT_AGENCY,
    OrganisationKind.CI_OPERATOR,
    OrganisationKind.AUTHORITY,
]
# Never a recipient of a notice advisory: the CERT itself and foreign CERTs.
EXCLUDED_KINDS = [OrganisationKind.NATIONAL_CERT, OrganisationKind.FOREIGN_CERT]


def affected_products(advisory: Advisory) -> list[matching.AffectedProduct]:
    return [
        matching.AffectedProduct(p["vendor"], p["product"], p.get("versions", ""))
        for p in advisory.affected_products
    ]


def subtree(root_ids: set[int]) -> set[int]:
    """The given organisations and every organisation below them, one query per level."""
    found = set(root_ids)
    frontier = set(root_ids)
    while frontier:
        children = set(
            Organisation.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)
        )
        frontier = children - found
        found |= frontier
    return found


def inventory_matches(products: list[matching.AffectedProduct]) -> dict[int, str]:
    """Organisation id -> the first matching inventory item, as a reason."""
    if not products:
        return {}
    wanted: dict[tuple[str, str], list[matching.AffectedProduct]] = defaultdict(list)
    for affected_product in products:
        wanted[(affected_product.vendor, affected_product.product)].append(affected_product)
    condition = Q()
    for vendor_name, product_name in wanted:
        condition |= Q(vendor=vendor_name, product=product_name)
    found: dict[int, str] = {}
    rows = InventoryItem.objects.filter(condition).values_list(
        "organisation_id", "vendor", "product", "version"
    )
    for org_id, vendor, product, version in rows.iterator(chunk_size=5000):
        if org_id in found:
            continue
        item = matching.Product(vendor, product, version)
        for affected in wanted[(vendor, product)]:
            hit, why = matching.matches(item, affected)
            if hit:
                found[org_id] = _("inventory: %(why)s") % {"why": why}
                break
    return found


def resolve(advisory: Advisory) -> dict[int, str]:
    """Organisation id -> why it is a recipient (the first reason found)."""
    reasons: dict[int, str] = {}

    def add(ids: set[int] | list[int], reason: str) -> None:
        for org_id in ids:
            reasons.setdefault(org_id, reason)

    active = Organisation.objects.filter(is_active=True).exclude(kind__in=EXCLUDED_KINDS)
    if advisory.target_all:
        add(list(active.filter(kind__in=AGENCY_KINDS).values_list("pk", flat=True)), _("all"))
    if advisory.pk is not None:
        explicit = set(advisory.target_organisations.values_list("pk", flat=True))
        add(set(active.filter(pk__in=explicit).values_list("pk", flat=True)), _("named"))
        sector_ids = list(advisory.target_sectors.values_list("pk", flat=True))
        if sector_ids:
            in_sector = active.filter(sector_id__in=sector_ids).values_list("pk", flat=True)
            add(set(in_sector), _("sector"))
        authority_ids = set(advisory.target_authorities.values_list("pk", flat=True))
        if authority_ids:
            below = active.filter(pk__in=subtree(authority_ids)).values_list("pk", flat=True)
            add(set(below), _("authority tree"))
    if advisory.target_inventory:
        matched = inventory_matches(affected_products(advisory))
        allowed = set(active.filter(pk__in=list(matched)).values_list("pk", flat=True))
        for org_id in sorted(allowed):
            reasons.setdefault(org_id, matched[org_id])
    return reasons
