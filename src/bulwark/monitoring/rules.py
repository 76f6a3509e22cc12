"""Who may change what in monitoring (the vocabulary is `bulwark.core.permissions`)."""

from django.utils.translation import gettext_lazy

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import User
from bulwark.core.permissions import action
from bulwark.monitoring.models import Alert


@action("monitoring.triage", refusal=gettext_lazy("Only CERT staff triage monitoring alerts."))
def triage(user: User, alert: Alert | None = None) -> bool:
    """Promote an alert to an incident or mark it a false positive: CERT staff and
    platform admins."""
    viewer = viewer_of(user)
    return viewer.cert_staff or viewer.platform_admin
