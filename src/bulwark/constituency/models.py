"""The constituency: organisations, sectors, contacts, network claims, users and roles."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from bulwark.constituency import networks
from bulwark.core.countries import ISO_3166_ALPHA2
from bulwark.core.permissions import Reader
from bulwark.core.registry import Hook

# Who a user is to the platform (`constituency.access.viewer_of`), installed by
# ConstituencyConfig.ready: the rule reads these models, so it sits above them and the
# models' `visible_to` reach it through this hook instead of importing it.
VIEWER_OF: Hook[Callable[[Any], Any]] = Hook("the constituency's viewer rule")


def _viewer(user: Reader) -> Any:
    return VIEWER_OF.call(user)


class UserQuerySet(models.QuerySet["User"]):
    def visible_to(self, user: Reader) -> "UserQuerySet":
        """Everyone for CERT staff; otherwise yourself and members of the organisations
        you belong to or supervise."""
        viewer = _viewer(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated:
            return self.none()
        return self.filter(
            models.Q(pk=viewer.user_id)
            | models.Q(memberships__organisation_id__in=viewer.managed_org_ids)
        ).distinct()


class BulwarkUserManager(UserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    pass


class OrganisationQuerySet(models.QuerySet["Organisation"]):
    def visible_to(self, user: Reader) -> "OrganisationQuerySet":
        """Everything for CERT staff; otherwise your organisations, those you supervise
        and the authorities above you."""
        viewer = _viewer(user)
        if viewer.sees_everything:
            return self
        return self.filter(pk__in=viewer.managed_org_ids | viewer.ancestor_org_ids)


class OrganisationOwnedQuerySet(models.QuerySet[Any]):
    """For rows that belong to one organisation: contacts, networks, memberships."""

    def visible_to(self, user: Reader) -> "OrganisationOwnedQuerySet":
        viewer = _viewer(user)
        if viewer.sees_everything:
            return self
        return self.filter(organisation_id__in=viewer.managed_org_ids)


class MembershipQuerySet(OrganisationOwnedQuerySet):
    def visible_to(self, user: Reader) -> "MembershipQuerySet":
        viewer = _viewer(user)
        if viewer.sees_everything:
            return self
        return self.filter(
            models.Q(organisation_id__in=viewer.managed_org_ids) | models.Q(user_id=viewer.user_id)
        )


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def visible_to(self, user: Reader) -> "ApiTokenQuerySet":
        """Your own tokens; platform admins see every token's metadata."""
        viewer = _viewer(user)
        if viewer.platform_admin:
            return self
        return self.filter(user_id=viewer.user_id) if viewer.authenticated else self.none()


def validate_country(value: str) -> None:
    if value not in ISO_3166_ALPHA2:
        raise ValidationError(
            _("%(value)s is not an ISO 3166 two-letter country code."), params={"value": value}
        )


class User(AbstractUser):
    """A person. What they may do comes from their memberships (organisation + role)."""

    email = models.EmailField(_("e-mail address"), unique=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    preferred_language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="en"
    )
    # An IANA zone name; blank: the platform's TIME_ZONE (constituency/timezones.py).
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, default="")

    objects = BulwarkUserManager()  # type: ignore[misc]

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")


class SectorQuerySet(models.QuerySet["Sector"]):
    def visible_to(self, user: Reader) -> "SectorQuerySet":
        """Reference data: every signed-in user."""
        return self if _viewer(user).authenticated else self.none()


class Sector(models.Model):
    """A sector; the eight critical-infrastructure domains ship as data (migration 0002)."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_zh_hant = models.CharField(_("name (Traditional Chinese)"), max_length=100, blank=True)
    critical_infrastructure = models.BooleanField(_("critical infrastructure"), default=False)

    objects = SectorQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("sector")
        verbose_name_plural = _("sectors")

    def __str__(self) -> str:
        # Shown in the reader's language wherever the object is printed.
        if get_language() == "zh-hant" and self.name_zh_hant:
            return self.name_zh_hant
        return self.name


class OrganisationKind(models.TextChoices):
    NATIONAL_CERT = "national_cert", _("National CERT")
    GOVERNMENT_AGENCY = "government_agency", _("Government agency")
    AUTHORITY = "authority", _("Supervising / sector authority")
    CI_OPERATOR = "ci_operator", _("Critical-infrastructure operator")
    ISAC = "isac", _("Sector ISAC")
    MSSP = "mssp", _("Managed security service provider")
    LEA = "lea", _("Law-enforcement agency")
    FOREIGN_CERT = "foreign_cert", _("Foreign CERT / CSIRT")


# Kinds that may supervise others (be a parent in the authority hierarchy).
SUPERVISING_KINDS = {OrganisationKind.AUTHORITY, OrganisationKind.NATIONAL_CERT}


class Organisation(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    short_name = models.CharField(_("short name"), max_length=50, blank=True)
    kind = models.CharField(_("type"), max_length=30, choices=OrganisationKind.choices)
    country = models.CharField(
        _("country"), max_length=2, default="TW", validators=[validate_country]
    )
    sector = models.ForeignKey(
        Sector, verbose_name=_("sector"), null=True, blank=True, on_delete=models.PROTECT
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("supervising authority"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text=_("The authority that reviews this organisation's incidents."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    notes = models.TextField(_("notes"), blank=True, max_length=5000)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = OrganisationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.pk is not None:
            self._check_kind_change()
        if self.parent_id is None:
            return
        if self.pk is not None and self.parent_id == self.pk:
            raise ValidationError({"parent": _("An organisation cannot supervise itself.")})
        parent = self.parent
        assert parent is not None
        if parent.kind not in SUPERVISING_KINDS:
            raise ValidationError(
                {"parent": _("The supervising organisation must be an authority or the CERT.")}
            )
        seen = {self.pk}
        while parent is not None:
            if parent.pk in seen:
                raise ValidationError(
                    {"parent": _("This would make the authority hierarchy a loop.")}
                )
            seen.add(parent.pk)
            parent = parent.parent

    def _check_kind_change(self) -> None:
        """A type that would leave the hierarchy or the members' roles invalid is refused
        with the reason, never saved half-way."""
        if (
            self.kind not in SUPERVISING_KINDS
            and Organisation.objects.filter(parent_id=self.pk).exists()
        ):
            raise ValidationError(
                {
                    "kind": _(
                        "This organisation supervises other organisations, so it must stay an "
                        "authority or the CERT. Move them to another authority first."
                    )
                }
            )
        held = set(
            Membership.objects.filter(organisation_id=self.pk).values_list("role", flat=True)
        )
        if self.kind != OrganisationKind.NATIONAL_CERT and held & {
            *CERT_STAFF_ROLES,
            Role.PLATFORM_ADMIN,
        }:
            raise ValidationError(
                {
                    "kind": _(
                        "Members of this organisation hold CERT or platform-admin roles, which "
                        "exist at the national CERT only. Revoke them first."
                    )
                }
            )
        if self.kind not in SUPERVISING_KINDS and Role.REVIEWER in held:
            raise ValidationError(
                {
                    "kind": _(
                        "Members of this organisation are reviewers, who belong to a "
                        "supervising authority or the CERT. Revoke those roles first."
                    )
                }
            )


pgp_key_validator = RegexValidator(
    r"\A-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]+-----END PGP PUBLIC KEY BLOCK-----\s*\Z",
    _("Paste an ASCII-armoured OpenPGP public key (BEGIN PGP PUBLIC KEY BLOCK)."),
)
phone_validator = RegexValidator(
    r"\A\+?[0-9 ()#*.\-]{3,30}(?: ?(?:ext|x)\.? ?[0-9]{1,6})?\Z",
    _("Enter a phone number: digits, spaces, +, -, ( ) and an optional extension."),
)


class Contact(models.Model):
    class Purpose(models.TextChoices):
        SECURITY = "security", _("Security contact")
        ABUSE = "abuse", _("Abuse reports")
        EMERGENCY = "emergency", _("24/7 emergency")
        CISO = "ciso", _("Chief information security officer")
        GENERAL = "general", _("General")

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="contacts"
    )
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True, validators=[phone_validator])
    pgp_key = models.TextField(
        _("PGP public key"), blank=True, max_length=100_000, validators=[pgp_key_validator]
    )

    objects = OrganisationOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["organisation", "purpose", "name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return f"{self.get_purpose_display()}: {self.name or self.email or self.phone}"

    def clean(self) -> None:
        if not (self.email or self.phone):
            raise ValidationError(_("A contact needs an e-mail address or a phone number."))


class NetworkClaim(models.Model):
    class Kind(models.TextChoices):
        CIDR = "cidr", _("IP prefix")
        ASN = "asn", _("AS number")
        DOMAIN = "domain", _("Domain")

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="networks"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=253)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = OrganisationOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "value"]
        verbose_name = _("network claim")
        verbose_name_plural = _("network claims")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "kind", "value"], name="unique_claim_per_organisation"
            )
        ]

    def __str__(self) -> str:
        return f"AS{self.value}" if self.kind == self.Kind.ASN else self.value

    def clean(self) -> None:
        try:
            self.value = networks.normalise(self.kind, self.value)
        except networks.InvalidClaim as exc:
            raise ValidationError({"value": str(exc)}) from None

    def as_claim(self) -> networks.Claim:
        return networks.Claim(self.kind, self.value, self.organisation_id)


class Role(models.TextChoices):
    REPORTER = "reporter", _("Reporter")
    ORG_ADMIN = "org_admin", _("Organisation admin")
    REVIEWER = "reviewer", _("Reviewer (supervising authority)")
    DUTY_OFFICER = "duty_officer", _("CERT duty officer")
    ANALYST = "analyst", _("CERT analyst")
    ISAC_MEMBER = "isac_member", _("ISAC member")
    PLATFORM_ADMIN = "platform_admin", _("Platform admin")


CERT_STAFF_ROLES = {Role.DUTY_OFFICER, Role.ANALYST}


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["organisation", "user", "role"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "role"], name="unique_role_per_membership"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.get_role_display()} @ {self.organisation}"

    def clean(self) -> None:
        org = self.organisation
        if self.role in CERT_STAFF_ROLES and org.kind != OrganisationKind.NATIONAL_CERT:
            raise ValidationError({"role": _("CERT roles are held at the national CERT only.")})
        if self.role == Role.REVIEWER and org.kind not in SUPERVISING_KINDS:
            raise ValidationError(
                {"role": _("Reviewers belong to a supervising authority or the CERT.")}
            )
        if self.role == Role.PLATFORM_ADMIN and org.kind != OrganisationKind.NATIONAL_CERT:
            raise ValidationError({"role": _("Platform admins are members of the national CERT.")})


class ApiToken(models.Model):
    """A bearer token. Only a SHA-256 digest of the secret part is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired


class ConstituencyVersion(models.Model):
    """One row whose `stamp` changes, in the same transaction, with every write to the tables
    that decide who sees what and what the constituency API answers: organisations,
    sectors, network claims, users and memberships. Database triggers change it
    (migration 0006), so bulk writes, the shell and raw SQL change it too.

    The stamp is random, not a counter: a rolled-back write never hands its stamp to a
    later, different state. Anything kept per stamp (viewers, API answers:
    `access.viewer_for_stamp`, `api/caching.py`) is therefore never read after the data
    it was computed from changed. No row (a flushed test database) means "unknown": nothing
    is cached."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    stamp = models.CharField(max_length=40)

    class Meta:
        db_table = "constituency_version"

    def __str__(self) -> str:
        return self.stamp


VERSIONED_TABLES = (
    "constituency_organisation",
    "constituency_sector",
    "constituency_networkclaim",
    "constituency_user",
    "constituency_membership",
)


class LoginFailure(models.Model):
    """A failed login, kept for throttling (per username and per address)."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.username} from {self.ip} at {self.at}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.username = self.username[:150]
        super().save(*args, **kwargs)


class ResetMail(models.Model):
    """A password-reset mail that was sent, kept for rate limiting (per account and per
    requesting address; `throttle.reset_mail_allowed`)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"reset mail for {self.user_id} from {self.ip} at {self.at}"


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def visible_to(self, user: Reader) -> "InvitationQuerySet":
        """Platform admins see every invitation; organisation admins those to the
        organisations they administer; nobody else any."""
        viewer = _viewer(user)
        if viewer.platform_admin:
            return self
        if not viewer.authenticated:
            return self.none()
        administered = [org_id for org_id in viewer.roles if viewer.administers(org_id)]
        return self.filter(organisation_id__in=administered)

    def pending(self) -> "InvitationQuerySet":
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class Invitation(models.Model):
    """An invitation e-mail with a single-use link: it sets the password of a new account
    (created on acceptance, or already created by a platform or organisation admin in
    `user`) and grants `role` in `organisation`. Only a SHA-256 digest of the link's
    secret is stored; re-sending replaces it, so an earlier link stops working."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        ACCEPTED = "accepted", _("accepted")
        EXPIRED = "expired", _("expired")
        REVOKED = "revoked", _("revoked")

    email = models.EmailField(_("e-mail address"))
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="invitations",
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, blank=True)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    sent_count = models.PositiveIntegerField(_("times sent"), default=1)
    expires_at = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.email} ({self.get_role_display() or '-'} @ {self.organisation or '-'})"

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING

    def get_status_display(self) -> str:
        return str(self.Status(self.status).label)
