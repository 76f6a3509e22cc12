"""Who may change what in shared intelligence (the vocabulary is
`bulwark.core.permissions`): services require these actions; the share page, the API and
the TAXII server ask them to decide what they offer."""

from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, User
from bulwark.core.permissions import action
from bulwark.intel.access import collection_q
from bulwark.intel.models import Collection


@action("intel.write", refusal=gettext_lazy("You may not add objects to this collection."))
def write(user: User, collection: Collection) -> bool:
    """Add objects to a collection: the CERT anywhere; members of an organisation to a
    collection they read whose members may write and that belongs to no other
    organisation."""
    viewer = viewer_of(user)
    if viewer.sees_everything:
        return True
    if not viewer.own_org_ids or not collection.members_can_write:
        return False
    if collection.organisation_id is not None and collection.organisation_id not in (
        viewer.own_org_ids
    ):
        return False
    q = collection_q(viewer)
    return Collection.objects.filter(q or Q(), pk=collection.pk).exists()


@action("intel.review", refusal=gettext_lazy("Only CERT analysts review shared intelligence."))
def review(user: User, obj: None = None) -> bool:
    """Publish or reject what awaits review: the CERT."""
    return viewer_of(user).sees_everything


@action(
    "intel.delete",
    refusal=gettext_lazy("Only the CERT or the sharing organisation may delete this."),
)
def delete(user: User, rows: Any) -> bool:
    """Delete object versions (a queryset of them): the CERT, or the organisation that
    shared every one of them."""
    viewer = viewer_of(user)
    return viewer.sees_everything or not rows.exclude(source_org_id__in=viewer.own_org_ids).exists()


@action(
    "intel.report_sighting",
    refusal=gettext_lazy("You report sightings for your own organisation only."),
)
def report_sighting(user: User, organisation: Organisation) -> bool:
    viewer = viewer_of(user)
    return viewer.sees_everything or organisation.pk in viewer.own_org_ids
