"""Who may change what in analytics (the vocabulary is `bulwark.core.permissions`)."""

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import User
from bulwark.core.permissions import action


@action("analytics.write_report")
def write_report(user: User, obj: None = None) -> bool:
    """Write the annual report's narrative sections: CERT staff."""
    return viewer_of(user).sees_everything
