"""Who may change what in advisories (the vocabulary is `bulwark.core.permissions`):
services require these actions; the advisory pages, the inventory page and the API ask
them to decide what they offer."""

from typing import Any

from django.utils.translation import gettext, gettext_lazy

from bulwark.advisories.models import Advisory, InventoryItem, Revision, Target
from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, User
from bulwark.core.permissions import action

WRITERS_ONLY = gettext_lazy("Only CERT analysts and duty officers write advisories.")


@action("advisory.write", refusal=WRITERS_ONLY)
def write(user: User, advisory: Advisory | None = None) -> bool:
    """Write, revise, submit, send, remind, attach: CERT analysts and duty officers."""
    return viewer_of(user).cert_staff


def _second_person(user: User, obj: Advisory | Revision) -> str:
    if not viewer_of(user).cert_staff:
        return str(WRITERS_ONLY)
    if isinstance(obj, Revision):
        return gettext("A second person must approve a revision, not its author.")
    return gettext("A second person must approve an advisory, not its author.")


@action("advisory.approve", refusal=_second_person)
def approve(user: User, obj: Advisory | Revision) -> bool:
    """Four eyes: a CERT writer other than the author approves an advisory or a revision."""
    return viewer_of(user).cert_staff and obj.author_id != user.pk


def _not_answerable(user: User, target: Target) -> str:
    if target.organisation_id not in viewer_of(user).own_org_ids:
        return gettext("Only members of the receiving organisation may answer.")
    return gettext("You may not read this advisory.")


@action("advisory.respond", refusal=_not_answerable)
def respond(user: User, target: Target) -> bool:
    """Read, acknowledge and report action on an advisory: members of the receiving
    organisation who may read it."""
    if target.organisation_id not in viewer_of(user).own_org_ids:
        return False
    return Advisory.objects.visible_to(user).filter(pk=target.advisory_id).exists()


@action(
    "advisory.manage_inventory",
    refusal=gettext_lazy("Only the organisation's admins manage its inventory."),
)
def manage_inventory(user: User, obj: Organisation | InventoryItem | Any) -> bool:
    """An organisation's inventory (what advisories are matched against): its admins and
    the platform admins."""
    org_id = obj.organisation_id if isinstance(obj, InventoryItem) else obj.pk
    return viewer_of(user).administers(org_id)
