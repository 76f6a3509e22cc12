"""Organisations' asset inventories, matched against advisories' affected products."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from bulwark.advisories import matching
from bulwark.advisories.models import (
    InventoryItem,
)
from bulwark.constituency.models import (
    Organisation,
    User,
)
from bulwark.core import audit
from bulwark.core.permissions import require


def add_inventory_item(
    actor: User,
    organisation: Organisation,
    *,
    cpe: str = "",
    vendor: str = "",
    product: str = "",
    version: str = "",
    note: str = "",
) -> InventoryItem:
    require(actor, "advisory.manage_inventory", organisation)
    try:
        if cpe.strip():
            parsed = matching.parse_cpe(cpe)
        else:
            parsed = matching.Product(
                matching.normalise_name(vendor), matching.normalise_name(product), version.strip()
            )
    except matching.InvalidProduct as exc:
        raise ValidationError({"cpe" if cpe.strip() else "product": str(exc)}) from None
    if len(parsed.version) > 100 or len(cpe) > 500:
        raise ValidationError({"version": _("The version is limited to 100 characters.")})
    with transaction.atomic():
        item = InventoryItem.objects.create(
            organisation=organisation,
            cpe=cpe.strip(),
            vendor=parsed.vendor,
            product=parsed.product,
            version=parsed.version,
            note=note.strip()[:200],
        )
        audit.record(
            actor,
            "inventory.added",
            item,
            organisation_id=organisation.pk,
            changes={"vendor": item.vendor, "product": item.product, "version": item.version},
        )
        return item


def remove_inventory_item(actor: User, item: InventoryItem) -> None:
    require(actor, "advisory.manage_inventory", item)
    with transaction.atomic():
        audit.record(
            actor,
            "inventory.removed",
            item,
            organisation_id=item.organisation_id,
            changes={"vendor": item.vendor, "product": item.product, "version": item.version},
        )
        item.delete()
