"""Who may change what in single sign-on (the vocabulary is `bulwark.core.permissions`)."""

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import User
from bulwark.core.permissions import action


@action("sso.manage")
def manage_providers(user: User, obj: None = None) -> bool:
    """Configure identity providers: platform admins only."""
    return viewer_of(user).platform_admin
