"""Turning an identity provider's claims into organisation roles. Pure: no Django.

A provider's mapping names the claim (OIDC) or attribute (SAML) that carries the person's
groups and which group value grants which role. It is read at every sign-in, so a change
at the identity provider (a person moved out of the admins' group) changes the roles at
the next sign-in.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Roles that open the whole constituency: an identity provider may grant them only when
# it signs people in to the national CERT and its mapping names them explicitly.
PRIVILEGED_ROLES = frozenset({"duty_officer", "analyst", "platform_admin"})
# Roles only a supervising authority or the CERT holds (Membership.clean says the same).
SUPERVISOR_ROLES = frozenset({"reviewer"})
ALL_ROLES = frozenset(
    {"reporter", "org_admin", "reviewer", "duty_officer", "analyst", "isac_member"}
    | {"platform_admin"}
)


class MappingError(ValueError):
    """The mapping itself is not acceptable for this organisation."""


@dataclass(frozen=True)
class Decision:
    """What one sign-in grants: the roles, or why nothing is granted."""

    roles: frozenset[str]
    refusal: str = ""  # "unmapped_organisation", "no_role", "no_email"
    detail: str = ""

    @property
    def allowed(self) -> bool:
        return not self.refusal


def claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    """A claim as a list of strings: OIDC sends a string or a list, SAML always a list."""
    if not name:
        return []
    value = claims.get(name)
    if value is None:
        return []
    if isinstance(value, str | int | float | bool):
        return [str(value)]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return [str(v) for v in value if v is not None and not isinstance(v, Mapping | list)]
    return []


def check_mapping(
    role_map: Mapping[str, Any], *, is_cert: bool, supervises: bool
) -> dict[str, str]:
    """The mapping cleaned, or MappingError naming the first bad entry."""
    if not isinstance(role_map, Mapping):
        raise MappingError("The role mapping must be an object of group value -> role.")
    cleaned: dict[str, str] = {}
    for group, role in role_map.items():
        group = str(group).strip()
        if not group or not isinstance(role, str):
            raise MappingError("Every entry maps a non-empty group value to a role name.")
        if role not in ALL_ROLES:
            raise MappingError(f"{role!r} is not a role (one of {', '.join(sorted(ALL_ROLES))}).")
        if role in PRIVILEGED_ROLES and not is_cert:
            raise MappingError(
                f"{role!r} can be granted through single sign-on only by the national CERT's "
                "identity provider."
            )
        if role in SUPERVISOR_ROLES and not supervises:
            raise MappingError("Reviewers belong to a supervising authority or the CERT.")
        cleaned[group] = role
    return cleaned


def decide(
    claims: Mapping[str, Any],
    *,
    role_claim: str,
    role_map: Mapping[str, str],
    is_cert: bool,
    organisation_claim: str = "",
    organisation_values: Iterable[str] = (),
    email_claim: str = "email",
) -> Decision:
    """The roles this sign-in grants in the provider's organisation, or a refusal."""
    expected = {str(v) for v in organisation_values}
    if organisation_claim:
        sent = claim_values(claims, organisation_claim)
        if not expected.intersection(sent):
            return Decision(
                frozenset(),
                "unmapped_organisation",
                ", ".join(sent) or "(none)",
            )
    if not claim_values(claims, email_claim):
        return Decision(frozenset(), "no_email", email_claim)
    groups = claim_values(claims, role_claim)
    roles = {role_map[g] for g in groups if g in role_map}
    if not is_cert:
        # The mapping was checked when it was saved; checked again in case the
        # organisation stopped being the CERT since.
        roles -= PRIVILEGED_ROLES
    if not roles:
        return Decision(frozenset(), "no_role", ", ".join(groups) or "(none)")
    return Decision(frozenset(roles))
