"""The only code that changes single-sign-on state: providers (platform admins) and the
sign-in itself, which creates the person and brings their roles in line with the claims.
Every change writes an audit entry; so does every refused sign-in."""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.access import forget_viewer
from bulwark.constituency.models import (
    SUPERVISING_KINDS,
    Membership,
    OrganisationKind,
    User,
)
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.sso import mapping
from bulwark.sso.models import ExternalIdentity, IdentityProvider, SamlRequest
from bulwark.training import services as training
from bulwark.training.models import Learner

PROVIDER_FIELDS = (
    "organisation",
    "slug",
    "name",
    "protocol",
    "is_active",
    "issuer",
    "client_id",
    "client_secret",
    "metadata_url",
    "metadata_xml",
    "email_claim",
    "role_claim",
    "role_map",
    "organisation_claim",
    "organisation_values",
)
SECRET_FIELDS = {"client_secret"}
# /sso/providers/ is the configuration page, /sso/learner/ the learners' chooser.
RESERVED_SLUGS = {"providers", "learner"}
# Long values are recorded as "changed", not copied into the audit log.
BULKY_FIELDS = {"metadata_xml"}

REFUSALS = {
    "unknown_provider": _("No single sign-on is configured under this name."),
    "unmapped_organisation": _(
        "Your identity provider says you belong to an organisation that is not mapped to "
        "this sign-in. Ask your organisation's administrator to have it mapped."
    ),
    "no_role": _(
        "Your identity provider's groups grant no role in this organisation. Ask your "
        "organisation's administrator to add you to a group that is mapped to a role."
    ),
    "no_email": _("Your identity provider sent no e-mail address, which the platform needs."),
    "bad_email": _("Your identity provider sent an e-mail address the platform cannot use."),
    "email_taken": _(
        "Another account already uses your e-mail address. Accounts are matched on the "
        "identity provider's subject, not on e-mail: ask a platform admin to resolve it."
    ),
    "inactive_user": _("Your account has been deactivated."),
    "invalid_response": _("The identity provider's answer could not be verified."),
    "provider_unreachable": _(
        "The identity provider could not be reached. Try again later, or ask your "
        "organisation's administrator."
    ),
    "transient_subject": _(
        "The identity provider sent a one-time identifier; it must send a persistent one."
    ),
    # The learner flow: the address is bound to another identity at this provider.
    "learner_identity_changed": _(
        "Your identity provider vouched for this e-mail address as another person than at "
        "your first sign-in. Ask your agency's training administrator to check your "
        "learner record."
    ),
    # The learner flow: said the same whether the address is unknown or deactivated.
    "unknown_learner": _(
        "Your identity provider vouched for you, but your agency's training has no active "
        "learner with the e-mail address it sent. Ask your agency's training administrator "
        "to add you, then sign in again."
    ),
}


class SignInRefused(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail

    @property
    def message(self) -> str:
        return str(REFUSALS.get(self.reason, REFUSALS["invalid_response"]))


# --- Provider configuration -------------------------------------------------------------


def _audit_changes(changes: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for name, value in changes.items():
        if name in SECRET_FIELDS or name in BULKY_FIELDS:
            shown[name] = "changed"
        else:
            shown[name] = value
    return shown


def _validate(provider: IdentityProvider) -> None:
    org = provider.organisation
    errors: dict[str, Any] = {}
    if provider.slug in RESERVED_SLUGS:
        errors["slug"] = _("This name is reserved; choose another.")
    try:
        provider.role_map = mapping.check_mapping(
            provider.role_map,
            is_cert=org.kind == OrganisationKind.NATIONAL_CERT,
            supervises=org.kind in SUPERVISING_KINDS,
        )
    except mapping.MappingError as exc:
        errors["role_map"] = str(exc)
    if not provider.role_map and "role_map" not in errors:
        errors["role_map"] = _("Map at least one group to a role.")
    values = provider.organisation_values
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        errors["organisation_values"] = _("A list of strings.")
    elif provider.organisation_claim and not values:
        errors["organisation_values"] = _("Name the claim values that mean this organisation.")
    if provider.protocol == IdentityProvider.Protocol.OIDC:
        for name in ("issuer", "client_id", "client_secret"):
            if not getattr(provider, name):
                errors[name] = _("OpenID Connect needs this.")
    elif provider.protocol == IdentityProvider.Protocol.SAML:
        # Lazy: pysaml2 is slow to import and only SAML providers need it.
        from bulwark.sso import saml

        try:
            provider.metadata_xml, provider.issuer = saml.load_idp_metadata(
                provider.metadata_xml, provider.metadata_url
            )
        except saml.MetadataError as exc:
            errors["metadata_xml"] = str(exc)
    if errors:
        raise ValidationError(errors)


def _apply(provider: IdentityProvider, data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(PROVIDER_FIELDS)
    if unknown:
        raise ValidationError({f: _("This field cannot be set here.") for f in sorted(unknown)})
    changes: dict[str, Any] = {}
    for name, new in data.items():
        if name == "client_secret" and not new and provider.pk:
            continue  # a blank secret on an edit keeps the stored one
        old = provider.organisation_id if name == "organisation" else getattr(provider, name)
        setattr(provider, name, new)
        if name == "organisation":
            new = provider.organisation_id
        if old != new:
            changes[name] = [old, new]
    return changes


def create_provider(actor: User, **data: Any) -> IdentityProvider:
    require(actor, "sso.manage")
    with transaction.atomic():
        provider = IdentityProvider()
        changes = _apply(provider, data)
        provider.full_clean(exclude=["role_map", "organisation_values"])
        _validate(provider)
        provider.save()
        audit.record(
            actor,
            "sso.provider_created",
            provider,
            changes=_audit_changes(changes),
            organisation_id=provider.organisation_id,
        )
    return provider


def update_provider(actor: User, provider: IdentityProvider, **data: Any) -> IdentityProvider:
    require(actor, "sso.manage")
    with transaction.atomic():
        provider = IdentityProvider.objects.select_for_update().get(pk=provider.pk)
        changes = _apply(provider, data)
        if changes:
            provider.full_clean(exclude=["role_map", "organisation_values"])
            _validate(provider)
            provider.save()
            audit.record(
                actor,
                "sso.provider_updated",
                provider,
                changes=_audit_changes(changes),
                organisation_id=provider.organisation_id,
            )
    return provider


# --- Signing in -------------------------------------------------------------------------


SAML_REQUEST_LIFETIME = timedelta(minutes=10)


def remember_saml_request(
    provider: IdentityProvider, request_id: str, *, learner: bool = False, next_url: str = ""
) -> None:
    """Keep a SAML request's id until its answer comes (and forget expired ones): only a
    response to a pending request is accepted. Not audited: the sign-in it leads to is.
    `learner`: the request was started by the learner flow, whose answer signs a training
    learner in (not a platform user)."""
    SamlRequest.objects.filter(created_at__lt=timezone.now() - SAML_REQUEST_LIFETIME).delete()
    SamlRequest.objects.create(
        request_id=request_id, provider=provider, learner=learner, next_url=next_url[:500]
    )


def consume_saml_request(provider: IdentityProvider, request_id: str) -> SamlRequest | None:
    """The pending request `request_id` of this provider, which is not pending any more, or
    None. Each request is answered once: a replayed response finds nothing to consume."""
    with transaction.atomic():
        pending = (
            SamlRequest.objects.select_for_update()
            .filter(provider=provider, request_id=request_id)
            .first()
        )
        if pending is not None:
            SamlRequest.objects.filter(pk=pending.pk).delete()
    return pending


def refuse(
    provider: IdentityProvider | None,
    reason: str,
    *,
    issuer: str = "",
    subject: str = "",
    detail: str = "",
    learner: bool = False,
) -> SignInRefused:
    """Audit a refused sign-in; returns the exception for the caller to raise."""
    audit.record(
        None,
        "sso.login_refused",
        provider,
        object_type=None if provider else "sso.identityprovider",
        object_label=None if provider else "unknown",
        changes={
            "reason": reason,
            "issuer": issuer,
            "subject": subject,
            "detail": detail[:500],
            **({"flow": "learner"} if learner else {}),
        },
        organisation_id=provider.organisation_id if provider else None,
    )
    return SignInRefused(reason, detail)


def _username_for(email: str) -> str:
    base = email[:140]
    candidate = base
    n = 1
    while User.objects.filter(username=candidate).exists():
        n += 1
        candidate = f"{base}+{n}"
    return candidate


def _sync_roles(user: User, provider: IdentityProvider, roles: frozenset[str]) -> dict[str, Any]:
    """Bring the user's roles in the provider's organisation in line with the claims."""
    org = provider.organisation
    current = {
        m.role: m for m in Membership.objects.filter(user=user, organisation=org).order_by("pk")
    }
    granted = sorted(roles - set(current))
    revoked = sorted(set(current) - roles)
    for role in granted:
        membership = Membership(user=user, organisation=org, role=role)
        membership.full_clean()
        membership.save()
        audit.record(
            None,
            "membership.granted",
            membership,
            changes={
                "user": user.username,
                "organisation": org.name,
                "role": role,
                "via": f"sso:{provider.slug}",
            },
            organisation_id=org.pk,
        )
    for role in revoked:
        membership = current[role]
        audit.record(
            None,
            "membership.revoked",
            membership,
            changes={"user": user.username, "role": role, "via": f"sso:{provider.slug}"},
            organisation_id=org.pk,
        )
        membership.delete()
    if granted or revoked:
        forget_viewer(user)
    return {"granted": granted, "revoked": revoked}


def sign_in(
    provider: IdentityProvider, *, issuer: str, subject: str, claims: Mapping[str, Any]
) -> User:
    """The local user for this (issuer, subject), created at the first sign-in, with
    roles in the provider's organisation set from the claims. Raises SignInRefused
    (already audited) when the claims do not allow a sign-in."""
    org = provider.organisation
    decision = mapping.decide(
        claims,
        role_claim=provider.role_claim,
        role_map=provider.role_map,
        is_cert=org.kind == OrganisationKind.NATIONAL_CERT,
        organisation_claim=provider.organisation_claim,
        organisation_values=provider.organisation_values,
        email_claim=provider.email_claim,
    )
    if not decision.allowed:
        raise refuse(
            provider, decision.refusal, issuer=issuer, subject=subject, detail=decision.detail
        )
    email = mapping.claim_values(claims, provider.email_claim)[0].strip().lower()
    stored_claims = {k: v for k, v in claims.items() if isinstance(k, str)}
    refusal = ""
    with transaction.atomic():
        identity = (
            ExternalIdentity.objects.select_for_update()
            .select_related("user")
            .filter(issuer=issuer, subject=subject)
            .first()
        )
        if identity is None:
            if User.objects.filter(email__iexact=email).exists():
                refusal = "email_taken"  # never take over an account because the e-mail matches
            else:
                try:
                    identity = _first_sign_in(provider, issuer, subject, email, claims)
                except ValidationError:
                    refusal = "bad_email"
        if identity is not None and not identity.user.is_active:
            refusal = "inactive_user"
        if identity is not None and not refusal:
            user = identity.user
            if email != user.email and not User.objects.filter(email__iexact=email).exists():
                user.email = email
                user.save(update_fields=["email"])
            identity.provider = provider
            identity.last_claims = stored_claims
            identity.last_login_at = timezone.now()
            identity.save(update_fields=["provider", "last_claims", "last_login_at"])
            changes = _sync_roles(user, provider, decision.roles)
            audit.record(
                user,
                "sso.login",
                provider,
                changes={
                    "issuer": issuer,
                    "subject": subject,
                    "roles": sorted(decision.roles),
                    **changes,
                },
                organisation_id=org.pk,
            )
    if refusal or identity is None:
        detail = email if refusal in {"email_taken", "bad_email"} else ""
        raise refuse(provider, refusal, issuer=issuer, subject=subject, detail=detail)
    return identity.user


def _first_sign_in(
    provider: IdentityProvider, issuer: str, subject: str, email: str, claims: Mapping[str, Any]
) -> ExternalIdentity:
    """A new account, without a password, bound to the identity provider's subject."""
    user = User(
        username=_username_for(email),
        email=email,
        first_name=str(claims.get("given_name", ""))[:150],
        last_name=str(claims.get("family_name", ""))[:150],
    )
    user.set_unusable_password()  # signs in through the provider only
    user.full_clean(exclude=["password"])
    user.save()
    audit.record(
        None,
        "user.created",
        user,
        changes={"email": email, "via": f"sso:{provider.slug}", "subject": subject},
        organisation_id=provider.organisation_id,
    )
    return ExternalIdentity.objects.create(
        user=user, provider=provider, issuer=issuer, subject=subject
    )


def learner_sign_in(
    provider: IdentityProvider, *, issuer: str, subject: str, claims: Mapping[str, Any]
) -> Learner:
    """The training learner this verified sign-in is for: the active `Learner` of the
    provider's organisation whose e-mail address the claims carry (never created here:
    learners come from the agency's list). The organisation claim, when the provider has
    one, must name the organisation; groups and roles do not matter (a learner holds no
    role). Raises SignInRefused (audited, flow "learner"); a success is audited as
    `sso.learner_login` on the learner. The caller signs the learner in
    (`training.learner_auth.sign_in`); no platform user is touched."""
    org = provider.organisation
    if provider.organisation_claim:
        sent = mapping.claim_values(claims, provider.organisation_claim)
        if not {str(v) for v in provider.organisation_values}.intersection(sent):
            raise refuse(provider, "unmapped_organisation", issuer=issuer, subject=subject,
                         detail=", ".join(sent) or "(none)", learner=True)  # fmt: skip
    emails = mapping.claim_values(claims, provider.email_claim)
    if not emails:
        raise refuse(provider, "no_email", issuer=issuer, subject=subject,
                     detail=provider.email_claim, learner=True)  # fmt: skip
    email = emails[0].strip().lower()
    try:
        with transaction.atomic():
            learner, bound = training.learner_for_single_sign_on(
                org, email, issuer=issuer, subject=subject
            )
            if learner is not None:
                audit.record(
                    None,
                    "sso.learner_login",
                    learner,
                    changes={
                        "provider": provider.slug,
                        "issuer": issuer,
                        "subject": subject,
                        **({"bound": True} if bound else {}),
                    },
                    organisation_id=org.pk,
                )
    except training.SingleSignOnMismatch:
        raise refuse(provider, "learner_identity_changed", issuer=issuer, subject=subject,
                     detail=email[:254], learner=True) from None  # fmt: skip
    if learner is None:
        raise refuse(provider, "unknown_learner", issuer=issuer, subject=subject,
                     detail=email[:254], learner=True)  # fmt: skip
    return learner
