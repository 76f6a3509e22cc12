"""Agencies' responsibility levels and their learners: import, accounts, sign-in links
and passwords."""

import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency import throttle
from bulwark.constituency.models import Organisation, User
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.core.tasks import send_email
from bulwark.training.engine import hours as hours_engine
from bulwark.training.models import (
    AgencyTraining,
    Learner,
    LearnerGroup,
    ResponsibilityLevel,
    SignInLink,
    TrainingRole,
)
from bulwark.training.services.common import (
    LEARNER_COLUMNS,
    LINK_LIFETIME,
    ROLE_ALIASES,
    ImportResult,
    TrainingError,
    csv_rows,
    secret_digest,
)


def set_agency_level(actor: User, org: Organisation, level: str, profile: str = "tw") -> None:
    require(actor, "training.manage_learners", org)
    if level not in ResponsibilityLevel.values:
        raise TrainingError(_("Unknown responsibility level."))
    try:
        hours_engine.load_profile(profile)
    except hours_engine.ProfileError as exc:
        raise TrainingError(str(exc)) from exc
    with transaction.atomic():
        AgencyTraining.objects.update_or_create(
            organisation=org, defaults={"level": level, "profile": profile}
        )
        audit.record(actor, "training.agency_level", org, changes={"level": level},
                     organisation_id=org.pk)  # fmt: skip


def import_learners(actor: User, org: Organisation, text: str) -> ImportResult:
    """Create or update an agency's learners from CSV (columns staff_id, name, email,
    role, and optionally unit, language, groups separated by ';'). A row with an error is
    reported with its line and reason and changes nothing; the other rows are kept."""
    require(actor, "training.manage_learners", org)
    header, rows = csv_rows(text)
    missing = [column for column in LEARNER_COLUMNS if column not in header]
    if missing:
        raise TrainingError(_("Missing columns: %(cols)s.") % {"cols": ", ".join(missing)})
    result = ImportResult()
    with transaction.atomic():
        for line, row in rows:
            try:
                created = _import_learner(org, row)
            except (ValidationError, TrainingError) as exc:
                result.errors.append((line, " ".join(getattr(exc, "messages", [str(exc)]))))
                continue
            if created:
                result.created += 1
            else:
                result.updated += 1
        audit.record(actor, "training.import_learners", org, organisation_id=org.pk,
                     changes={"created": result.created, "updated": result.updated,
                              "errors": len(result.errors)})  # fmt: skip
    return result


def _import_learner(org: Organisation, row: Mapping[str, str]) -> bool:
    staff_id, name, email = row.get("staff_id", ""), row.get("name", ""), row.get("email", "")
    if not staff_id or not name:
        raise TrainingError(_("staff_id and name are required."))
    if len(staff_id) > 64 or len(name) > 200:
        raise TrainingError(_("staff_id or name is too long."))
    try:
        validate_email(email)
    except ValidationError as exc:
        raise TrainingError(_("%(email)s is not an e-mail address.") % {"email": email}) from exc
    role = ROLE_ALIASES.get(row.get("role", "").lower())
    if role is None:
        raise TrainingError(
            _("Unknown role %(role)s (one of %(roles)s).")
            % {"role": row.get("role", ""), "roles": ", ".join(TrainingRole.values)}
        )
    email = email.lower()
    other = Learner.objects.filter(email=email).exclude(organisation=org, staff_id=staff_id)
    if other.exists():
        raise TrainingError(_("%(email)s belongs to another learner.") % {"email": email})
    language = row.get("language") or "zh-hant"
    with transaction.atomic():
        before = (
            Learner.objects.filter(organisation=org, staff_id=staff_id)
            .values_list("email", flat=True)
            .first()
        )
        learner, created = Learner.objects.update_or_create(
            organisation=org,
            staff_id=staff_id,
            defaults={"name": name, "email": email, "role": role,
                      "unit": row.get("unit", "")[:200], "preferred_language": language[:10],
                      "is_active": True},
        )  # fmt: skip
        if before is not None and before != email:
            # A new address may be another account at the identity provider: the identity
            # bound at the first single sign-on no longer applies.
            Learner.objects.filter(pk=learner.pk).update(sso_issuer="", sso_subject="")
        for group_name in filter(None, (g.strip() for g in row.get("groups", "").split(";"))):
            group, _created = LearnerGroup.objects.get_or_create(
                organisation=org, name=group_name[:100]
            )
            group.learners.add(learner)
    return created


def add_learner(
    actor: User, org: Organisation, *, staff_id: str, name: str, email: str, role: str,
    unit: str = "", password: str | None = None,
) -> Learner:  # fmt: skip
    require(actor, "training.manage_learners", org)
    with transaction.atomic():
        _import_learner(org, {"staff_id": staff_id, "name": name, "email": email,
                              "role": role, "unit": unit})  # fmt: skip
        learner = Learner.objects.get(organisation=org, staff_id=staff_id)
        if password:
            learner.set_password(password)
            learner.save(update_fields=["password"])
        audit.record(actor, "training.add_learner", learner, organisation_id=org.pk)
    return learner


def deactivate_learner(actor: User, learner: Learner) -> None:
    require(actor, "training.manage_learners", learner.organisation)
    with transaction.atomic():
        Learner.objects.filter(pk=learner.pk).update(is_active=False)
        SignInLink.objects.filter(learner=learner, used_at__isnull=True).delete()
        audit.record(actor, "training.deactivate_learner", learner,
                     organisation_id=learner.organisation_id)  # fmt: skip


def _new_link(learner: Learner, base_url: str, mail: bool) -> str:
    """Store a new link's digest and queue its mail (inside the caller's transaction)."""
    secret = secrets.token_urlsafe(32)
    url = f"{base_url.rstrip('/')}/training/learn/link/{secret}/"
    SignInLink.objects.create(
        learner=learner, digest=secret_digest(secret), expires_at=timezone.now() + LINK_LIFETIME
    )
    if mail:
        subject = _("Your sign-in link for security training")
        body = _(
            "Open this link to sign in to your security training (valid for 7 days, "
            "once):\n\n%(url)s\n"
        ) % {"url": url}
        emails = [learner.email]
        transaction.on_commit(lambda: send_email.enqueue(subject, body, emails))
    return url


def issue_sign_in_link(
    actor: User, learner: Learner, base_url: str, *, mail: bool = True,
    reset_password: bool = False,
) -> str:  # fmt: skip
    """A one-time sign-in link (valid 7 days), e-mailed to the learner; returns the URL.
    With `reset_password` the learner's password is removed first (which also ends their
    sessions): they sign in with the link and choose a new one."""
    require(actor, "training.manage_learners", learner.organisation)
    if not learner.is_active:
        raise TrainingError(_("This learner is deactivated."))
    with transaction.atomic():
        if reset_password:
            learner.set_password(None)
            Learner.objects.filter(pk=learner.pk).update(password="")
        url = _new_link(learner, base_url, mail)
        audit.record(actor, "training.reset_password" if reset_password
                     else "training.sign_in_link", learner,
                     organisation_id=learner.organisation_id)  # fmt: skip
    return url


def request_sign_in_link(email: str, ip: str | None, base_url: str) -> None:
    """A learner asks for a sign-in link by e-mail address. The caller answers the same
    whatever happens here, so the form never tells whether an address is a learner's.
    Requests are counted like failed sign-ins (per address asked for and per client
    address, `constituency.throttle`), and at most RESET_MAIL_LIMIT links go to one
    learner in RESET_MAIL_WINDOW_SECONDS, as the platform's password-reset mails."""
    email = email.strip().lower()[:254]
    key = f"learner-link:{email}"
    if throttle.is_blocked(key, ip):
        return
    throttle.record_failure(key, ip)
    learner = Learner.objects.filter(email=email, is_active=True).first()
    if learner is None:
        return
    since = timezone.now() - timedelta(seconds=settings.RESET_MAIL_WINDOW_SECONDS)
    with transaction.atomic():
        if SignInLink.objects.filter(learner=learner, created_at__gte=since).count() >= (
            settings.RESET_MAIL_LIMIT
        ):
            audit.record(None, "training.sign_in_link_throttled", learner,
                         organisation_id=learner.organisation_id)  # fmt: skip
            return
        _new_link(learner, base_url, mail=True)
        audit.record(None, "training.sign_in_link_requested", learner,
                     organisation_id=learner.organisation_id)  # fmt: skip


def redeem_sign_in_link(secret: str) -> Learner | None:
    """The learner of an unused, unexpired link (the link is used up), or None."""
    with transaction.atomic():
        link = (
            SignInLink.objects.select_for_update()
            .select_related("learner")
            .filter(
                digest=secret_digest(secret), used_at__isnull=True, expires_at__gt=timezone.now()
            )
            .first()
        )
        if link is None or not link.learner.is_active:
            return None
        link.used_at = timezone.now()
        link.save(update_fields=["used_at"])
        Learner.objects.filter(pk=link.learner_id).update(last_login=link.used_at)
        return link.learner


def authenticate_learner(email: str, password: str, ip: str | None) -> Learner | None:
    """The active learner with this e-mail and password, or None; failures are throttled
    like the platform's own sign-in (per e-mail and per address)."""
    key = f"learner:{email.strip().lower()}"
    if throttle.is_blocked(key, ip):
        raise TrainingError(_("Too many failed sign-ins. Try again later."))
    learner = Learner.objects.filter(email=email.strip().lower(), is_active=True).first()
    if learner is None or not learner.check_password(password):
        throttle.record_failure(key, ip)
        return None
    Learner.objects.filter(pk=learner.pk).update(last_login=timezone.now())
    return learner


class SingleSignOnMismatch(Exception):
    """The identity provider vouched for this learner's address with another identity
    (issuer, subject) than at the learner's first single sign-on. The caller (sso) says
    so to the person and audits the refusal."""


def learner_for_single_sign_on(
    org: Organisation, email: str, *, issuer: str, subject: str
) -> tuple[Learner | None, bool]:
    """The active learner of `org` with this e-mail address, whom the agency's identity
    provider has just vouched for as (issuer, subject), or None (never creates one:
    learners come from the agency's list), and whether this sign-in bound that identity
    (the first single sign-on). Later sign-ins must carry the bound identity, else
    SingleSignOnMismatch: an address the provider gives to someone else does not sign
    the new holder in. Their last sign-in is noted; the caller signs them in and audits."""
    learner = (
        Learner.objects.select_for_update()
        .filter(organisation=org, email=email.strip().lower()[:254], is_active=True)
        .first()
    )
    if learner is None:
        return None, False
    bound = not learner.sso_subject
    if not bound and (learner.sso_issuer, learner.sso_subject) != (issuer, subject):
        raise SingleSignOnMismatch(learner.pk)
    learner.last_login = timezone.now()
    changes: dict[str, Any] = {"last_login": learner.last_login}
    if bound:
        changes.update(sso_issuer=issuer[:500], sso_subject=subject[:255])
    Learner.objects.filter(pk=learner.pk).update(**changes)
    return learner, bound


def set_own_password(learner: Learner, password: str) -> None:
    if len(password) < 10:
        raise TrainingError(_("Use at least 10 characters."))
    learner.set_password(password)
    learner.save(update_fields=["password"])
