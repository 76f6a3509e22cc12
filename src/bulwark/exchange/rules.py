"""Who may change what in report exchange (the vocabulary is `bulwark.core.permissions`)."""

from django.utils.translation import gettext_lazy

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import User
from bulwark.core.permissions import action


@action("exchange.manage", refusal=gettext_lazy("Only CERT staff handle received reports."))
def manage(user: User, obj: object = None) -> bool:
    """Ingest, replay, discard and re-route reports, keep routing rules, column mappings
    and notification settings, resend notifications: CERT staff (their pages do not
    exist for others)."""
    return viewer_of(user).sees_everything
