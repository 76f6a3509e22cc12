"""Single sign-on: an organisation's identity provider, and the people it vouches for."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, User
from bulwark.core.permissions import Reader


class IdentityProviderQuerySet(models.QuerySet["IdentityProvider"]):
    def visible_to(self, user: Reader) -> "IdentityProviderQuerySet":
        """Configuration (client secrets included) is the platform admins' alone."""
        return self if viewer_of(user).platform_admin else self.none()

    def usable(self) -> "IdentityProviderQuerySet":
        """What the sign-in pages may start a sign-in with (anonymous: no visible_to)."""
        return self.filter(is_active=True, organisation__is_active=True)


class IdentityProvider(models.Model):
    class Protocol(models.TextChoices):
        OIDC = "oidc", _("OpenID Connect")
        SAML = "saml", _("SAML 2.0")

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="identity_providers",
    )
    slug = models.SlugField(
        _("sign-in name"),
        max_length=50,
        unique=True,
        help_text=_("Staff sign in at /sso/<name>/; give them this name or the link."),
    )
    name = models.CharField(_("display name"), max_length=200)
    protocol = models.CharField(_("protocol"), max_length=10, choices=Protocol.choices)
    is_active = models.BooleanField(_("active"), default=True)
    # OpenID Connect
    issuer = models.URLField(
        _("issuer"),
        max_length=500,
        blank=True,
        help_text=_("OIDC: the issuer URL; its /.well-known/openid-configuration is read."),
    )
    client_id = models.CharField(_("client id"), max_length=200, blank=True)
    client_secret = models.CharField(_("client secret"), max_length=500, blank=True)
    # SAML 2.0
    metadata_url = models.URLField(
        _("IdP metadata URL"),
        max_length=500,
        blank=True,
        help_text=_("SAML: where the identity provider publishes its metadata."),
    )
    metadata_xml = models.TextField(
        _("IdP metadata XML"),
        blank=True,
        max_length=500_000,
        help_text=_("SAML: the identity provider's metadata, when it has no URL."),
    )
    # Claim mapping (both protocols: OIDC claims, SAML attributes)
    email_claim = models.CharField(_("e-mail claim"), max_length=200, default="email")
    role_claim = models.CharField(_("group claim"), max_length=200, default="groups")
    role_map = models.JSONField(
        _("group -> role"),
        default=dict,
        help_text=_('e.g. {"soc-admins": "org_admin", "staff": "reporter"}'),
    )
    organisation_claim = models.CharField(
        _("organisation claim"),
        max_length=200,
        blank=True,
        help_text=_("For an identity provider shared by several organisations."),
    )
    organisation_values = models.JSONField(
        _("organisation values"),
        default=list,
        blank=True,
        help_text=_("Values of the organisation claim that mean this organisation."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = IdentityProviderQuerySet.as_manager()

    class Meta:
        ordering = ["organisation__name", "name"]
        verbose_name = _("identity provider")
        verbose_name_plural = _("identity providers")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_protocol_display()})"


class ExternalIdentity(models.Model):
    """A person as an identity provider knows them. Users are matched on (issuer,
    subject) only: an e-mail address can be reused or reassigned, a subject cannot."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="external_identities")
    provider = models.ForeignKey(
        IdentityProvider, on_delete=models.PROTECT, related_name="identities"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=500)
    last_claims = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="unique_sso_subject")
        ]

    def __str__(self) -> str:
        return f"{self.subject} @ {self.issuer}"


class SamlRequest(models.Model):
    """An AuthnRequest we sent and not yet answered. The answer comes back as a
    cross-site POST, which carries no SameSite=Lax session cookie, so the request is
    remembered here and each may be answered once (no replayed responses)."""

    request_id = models.CharField(max_length=100, unique=True)
    provider = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE)
    next_url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Started at /sso/<provider>/learner/: its answer signs a training learner in, never
    # a platform user (the ACS is the provider's one, registered at the IdP).
    learner = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.request_id
