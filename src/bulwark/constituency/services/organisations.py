"""Organisations, their network claims and their contacts."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from bulwark.constituency.access import forget_viewer, viewer_of
from bulwark.constituency.models import Contact, NetworkClaim, Organisation, User
from bulwark.constituency.selectors import overlaps_of
from bulwark.constituency.tasks import notify_platform_admins
from bulwark.core import audit
from bulwark.core.permissions import require

ORGANISATION_FIELDS = (
    "name",
    "short_name",
    "kind",
    "country",
    "sector",
    "parent",
    "is_active",
    "notes",
)
# What places an organisation in the hierarchy: the platform admins' to change.
HIERARCHY_FIELDS = ("kind", "parent", "is_active")
CONTACT_FIELDS = ("purpose", "name", "email", "phone", "pgp_key")


def _value(obj: Model, name: str) -> Any:
    value = getattr(obj, name)
    return str(value.pk) if isinstance(value, Model) else value


def _plain(value: Any) -> Any:
    return str(value.pk) if isinstance(value, Model) else value


def _apply(obj: Model, data: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """Set the allowed fields and return {field: [old, new]} for those that changed."""
    allowed = set(allowed)
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError({f: _("This field cannot be set here.") for f in sorted(unknown)})
    changes: dict[str, Any] = {}
    for name, new in data.items():
        old = _value(obj, name)
        setattr(obj, name, new)
        if old != _value(obj, name):
            changes[name] = [old, _value(obj, name)]
    return changes


# --- Organisations --------------------------------------------------------------------


def _system_or(actor: User | None, action: str, obj: Any = None) -> None:
    """`actor=None` is the platform itself (command line, demo loader, migrations); any
    person must pass the rule."""
    if actor is not None:
        require(actor, action, obj)


def create_organisation(actor: User | None, **data: Any) -> Organisation:
    _system_or(actor, "organisation.create")
    with transaction.atomic():
        org = Organisation()
        changes = _apply(org, data, ORGANISATION_FIELDS)
        org.full_clean()
        org.save()
        audit.record(actor, "organisation.created", org, changes=changes, organisation_id=org.pk)
    return org


def update_organisation(actor: User, org: Organisation, **data: Any) -> Organisation:
    viewer = viewer_of(actor)
    require(actor, "organisation.edit", org)
    with transaction.atomic():
        org = Organisation.objects.select_for_update().get(pk=org.pk)
        if not viewer.manages_constituency:
            # Organisation admins edit their details; their place in the hierarchy is the
            # CERT's. A change they ask for is refused with the reason, never dropped.
            refused = [
                f for f in HIERARCHY_FIELDS if f in data and _value(org, f) != _plain(data[f])
            ]
            if refused:
                raise ValidationError(
                    {
                        f: _(
                            "Only the platform admins change an organisation's type, "
                            "supervising authority or active state. Ask them."
                        )
                        for f in refused
                    }
                )
            data = {k: v for k, v in data.items() if k not in HIERARCHY_FIELDS}
        changes = _apply(org, data, ORGANISATION_FIELDS)
        if changes:
            org.full_clean()
            org.save()
            audit.record(
                actor, "organisation.updated", org, changes=changes, organisation_id=org.pk
            )
    if "parent" in changes or "is_active" in changes:
        forget_viewer(actor)
    return org


# --- Networks -------------------------------------------------------------------------


def add_network(
    actor: User | None, org: Organisation, kind: str, value: str, note: str = ""
) -> NetworkClaim:
    _system_or(actor, "organisation.manage_networks", org)
    with transaction.atomic():
        claim = NetworkClaim(organisation=org, kind=kind, value=value, note=note)
        claim.clean_fields(exclude=["value"])
        claim.clean()  # normalises value, so the duplicate check sees the canonical form
        if NetworkClaim.objects.filter(
            organisation=org, kind=claim.kind, value=claim.value
        ).exists():
            raise ValidationError(
                {"value": _("%(org)s already claims %(value)s.") % {"org": org, "value": claim}}
            )
        claim.full_clean()
        claim.save()
        overlaps = overlaps_of(claim)
        audit.record(
            actor,
            "network.added",
            claim,
            changes={"kind": claim.kind, "value": claim.value, "overlaps": len(overlaps)},
            organisation_id=org.pk,
        )
        if overlaps:
            claim_id = claim.pk
            transaction.on_commit(
                lambda: notify_platform_admins.enqueue("network_overlap", claim_id)
            )
    return claim


def remove_network(actor: User, claim: NetworkClaim) -> None:
    require(actor, "organisation.manage_networks", claim.organisation)
    with transaction.atomic():
        audit.record(
            actor,
            "network.removed",
            claim,
            changes={"kind": claim.kind, "value": claim.value},
            organisation_id=claim.organisation_id,
        )
        claim.delete()


# --- Contacts -------------------------------------------------------------------------


def add_contact(actor: User | None, org: Organisation, **data: Any) -> Contact:
    _system_or(actor, "organisation.manage_contacts", org)
    with transaction.atomic():
        contact = Contact(organisation=org)
        changes = _apply(contact, data, CONTACT_FIELDS)
        contact.full_clean()
        contact.save()
        changes.pop("pgp_key", None)
        audit.record(actor, "contact.added", contact, changes=changes, organisation_id=org.pk)
    return contact


def update_contact(actor: User, contact: Contact, **data: Any) -> Contact:
    require(actor, "organisation.manage_contacts", contact.organisation)
    with transaction.atomic():
        changes = _apply(contact, data, CONTACT_FIELDS)
        if changes:
            contact.full_clean()
            contact.save()
            if "pgp_key" in changes:
                changes["pgp_key"] = ["…", "…"]
            audit.record(
                actor,
                "contact.updated",
                contact,
                changes=changes,
                organisation_id=contact.organisation_id,
            )
    return contact


def remove_contact(actor: User, contact: Contact) -> None:
    require(actor, "organisation.manage_contacts", contact.organisation)
    with transaction.atomic():
        audit.record(actor, "contact.removed", contact, organisation_id=contact.organisation_id)
        contact.delete()
