"""API token scopes. A token may only do what its scopes name; session users have all."""

from django.utils.translation import gettext_lazy as _

SCOPES = {
    "constituency:read": _("Read organisations, networks, contacts, users and memberships"),
    "constituency:write": _("Change organisations, networks, contacts, users and memberships"),
    "audit:read": _("Read the audit log"),
    "incidents:read": _("Read incidents you can see"),
    "incidents:write": _("Report incidents and act on them"),
    "tokens:manage": _("List, create and revoke your own API tokens"),
}
DEFAULT_SCOPES = ["constituency:read"]
