"""API token scopes. A token may only do what its scopes name; session users have all.

Which scopes a person may hold depends on their roles (`ROLE_SCOPES`, applied by
`rules.token_scopes`): a token can never carry a scope its user's roles do not allow, and
a token minted with a token can never carry a scope the minting token lacks."""

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

# Every signed-in person may read (what `visible_to` shows them, which for someone
# without a membership is little more than themselves) and manage their own tokens.
BASE_SCOPES = frozenset(
    {
        "constituency:read",
        "tokens:manage",
        "incidents:read",
        "intel:read",
        "monitoring:read",
        "advisories:read",
        "stats:read",
        "exchange:read",
        "training:read",
        "drills:read",
        "findings:read",
    }
)
# Any member of an organisation also reports and works its incidents, shares
# intelligence and answers advisories.
MEMBER_SCOPES = BASE_SCOPES | {
    "incidents:write", "intel:write", "advisories:write", "drills:write", "findings:write",
}  # fmt: skip
# Scopes each role adds. A platform admin may hold every scope (including any an app
# registers later); a scope no role names here is for platform admins only.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "reporter": MEMBER_SCOPES,
    "reviewer": MEMBER_SCOPES,
    "isac_member": MEMBER_SCOPES,
    # Organisation admins edit their organisation and read the audit entries about it.
    "org_admin": MEMBER_SCOPES | {"constituency:write", "audit:read", "training:write"},
    # CERT staff triage monitoring alerts, handle the report exchange and write courses
    # (training's pages let them: `training.author`; these roles exist in the CERT only).
    "duty_officer": MEMBER_SCOPES | {"monitoring:write", "exchange:write", "training:write"},
    "analyst": MEMBER_SCOPES | {"monitoring:write", "exchange:write", "training:write"},
}
