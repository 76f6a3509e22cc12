"""The only code that changes the constituency: each function checks the actor's right
(`bulwark.core.permissions`, actions in `constituency/rules.py`), validates, writes in one
transaction and appends one audit entry.

One module per concern; the verbs are re-exported here, so callers write
`services.create_user(...)`:

- `organisations`: organisations, their network claims and contacts;
- `memberships`: roles granted and revoked;
- `accounts`: accounts created, (de)activated, their display zone;
- `tokens`: API tokens minted and revoked;
- `invitations`: onboarding by e-mail, accepted once;
- `second_factor`: authenticators, recovery codes, an admin's reset.
"""

from bulwark.constituency.services.accounts import (
    NEUTRAL_ACCOUNT_REFUSAL,
    create_user,
    set_time_zone,
    set_user_active,
)
from bulwark.constituency.services.invitations import (
    accept_invitation,
    find_invitation,
    invitation_link,
    invitation_refusal,
    invite_account,
    invite_member,
    resend_invitation,
    revoke_invitation,
)
from bulwark.constituency.services.memberships import (
    NEUTRAL_MEMBER_REFUSAL,
    add_membership,
    remove_membership,
)
from bulwark.constituency.services.organisations import (
    CONTACT_FIELDS,
    HIERARCHY_FIELDS,
    ORGANISATION_FIELDS,
    add_contact,
    add_network,
    create_organisation,
    remove_contact,
    remove_network,
    update_contact,
    update_organisation,
)
from bulwark.constituency.services.second_factor import (
    RECOVERY_DEVICE_NAME,
    confirm_authenticator,
    has_authenticator,
    recovery_codes,
    regenerate_recovery_codes,
    reset_second_factor,
    start_authenticator,
)
from bulwark.constituency.services.tokens import (
    MAX_TOKEN_DAYS,
    TOKEN_PREFIX,
    create_api_token,
    revoke_api_token,
    token_digest,
)

__all__ = [
    "CONTACT_FIELDS",
    "HIERARCHY_FIELDS",
    "MAX_TOKEN_DAYS",
    "NEUTRAL_ACCOUNT_REFUSAL",
    "NEUTRAL_MEMBER_REFUSAL",
    "ORGANISATION_FIELDS",
    "RECOVERY_DEVICE_NAME",
    "TOKEN_PREFIX",
    "accept_invitation",
    "add_contact",
    "add_membership",
    "add_network",
    "confirm_authenticator",
    "create_api_token",
    "create_organisation",
    "create_user",
    "find_invitation",
    "has_authenticator",
    "invitation_link",
    "invitation_refusal",
    "invite_account",
    "invite_member",
    "recovery_codes",
    "regenerate_recovery_codes",
    "remove_contact",
    "remove_membership",
    "remove_network",
    "resend_invitation",
    "reset_second_factor",
    "revoke_api_token",
    "revoke_invitation",
    "set_time_zone",
    "set_user_active",
    "start_authenticator",
    "token_digest",
    "update_contact",
    "update_organisation",
]
