import logging
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.db import transaction
from django.template import loader
from django.utils.translation import gettext_lazy as _

from bulwark.constituency import throttle
from bulwark.constituency.models import (
    SUPERVISING_KINDS,
    Contact,
    NetworkClaim,
    Organisation,
    OrganisationKind,
    Role,
    Sector,
    User,
)
from bulwark.constituency.scopes import SCOPES
from bulwark.core import audit
from bulwark.core.middleware import client_ip
from bulwark.core.tasks import send_email

log = logging.getLogger(__name__)


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": _(
            "Too many failed sign-in attempts. Wait a few minutes and try again, or reset "
            "your password."
        ),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) if self.request else None
        if throttle.is_blocked(username, ip):
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.record_failure(username, ip)
            raise
        throttle.clear(username)
        return cleaned


class QueuedPasswordResetForm(PasswordResetForm):
    """Sends the reset mail from the task worker, after the request has committed.

    The link points at BULWARK_SITE_URL, never at the Host header of the request (which
    whoever asks for the reset controls), and each account gets at most
    RESET_MAIL_LIMIT mails per window (each address 4x that): over the limit no mail is
    sent, the answer stays the same (so it reveals nothing) and the refusal is audited."""

    _ip: str | None = None

    def get_users(self, email: str) -> Any:
        """Django's form skips accounts without a usable password; but an account created
        by an admin has none until its owner sets one through this very mail (the page
        that creates it says so). Such accounts that never signed in get the mail too."""
        found = User.objects.filter(email__iexact=email, is_active=True)
        return (
            u
            for u in found
            if (u.has_usable_password() or u.last_login is None)
            and u.email.casefold() == email.casefold()
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        site = urlsplit(settings.SITE_URL)
        kwargs["domain_override"] = site.netloc
        kwargs["use_https"] = site.scheme == "https"
        request = kwargs.get("request")
        self._ip = client_ip(request) if request is not None else None
        super().save(*args, **kwargs)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:

        user = context["user"]
        if not throttle.reset_mail_allowed(user.pk, self._ip):
            log.warning("password reset mail for user %s not sent: rate limit", user.pk)
            audit.record(
                None,
                "user.password_reset_throttled",
                user,
                changes={"limit": settings.RESET_MAIL_LIMIT},
            )
            return
        throttle.record_reset_mail(user.pk, self._ip)
        audit.record(None, "user.password_reset_sent", user)
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        transaction.on_commit(lambda: send_email.enqueue(subject, body, [to_email]))


class OTPTokenForm(forms.Form):
    token = forms.CharField(
        label=_("Six-digit code from your authenticator app"),
        min_length=6,
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        token = "".join(self.cleaned_data["token"].split())
        if not token.isdigit():
            raise forms.ValidationError(_("The code is made of digits only."))
        return token


class SecondFactorForm(forms.Form):
    """At sign-in: the six-digit code of the authenticator app, or a recovery code."""

    token = forms.CharField(
        label=_("Six-digit code from your authenticator app, or a recovery code"),
        min_length=6,
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )

    def clean_token(self) -> str:
        token = "".join(self.cleaned_data["token"].split()).replace("-", "").lower()
        if not token.isalnum() or not token.isascii():
            raise forms.ValidationError(
                _("Enter the six-digit code, or one of your eight-character recovery codes.")
            )
        return token

    @property
    def is_recovery_code(self) -> bool:
        token = self.cleaned_data.get("token", "")
        return not (len(token) == 6 and token.isdigit())


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)

    def __init__(self, *args: Any, roles: Collection[str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "invite")
        super().__init__(*args, **kwargs)
        _offer_roles(self, roles)


class InvitationAcceptForm(forms.Form):
    username = forms.RegexField(
        label=_("Username"),
        max_length=150,
        regex=r"^[\w.@+-]+\Z",
        error_messages={"invalid": _("Letters, digits and @ . + - _ only.")},
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=_("New password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, ask_username: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not ask_username:
            del self.fields["username"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        one, two = cleaned.get("new_password1"), cleaned.get("new_password2")
        if one and two and one != two:
            self.add_error("new_password2", _("The two passwords differ."))
        return cleaned


class OrganisationFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    kind = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("All types")), *OrganisationKind.choices]
    )
    sector = forms.ModelChoiceField(
        label=_("Sector"),
        required=False,
        queryset=Sector.objects.all(),
        empty_label=_("All sectors"),
    )
    country = forms.CharField(label=_("Country"), required=False, max_length=2)


class OrganisationForm(forms.ModelForm[Organisation]):
    class Meta:
        model = Organisation
        fields = ["name", "short_name", "kind", "country", "sector", "parent", "is_active", "notes"]

    def __init__(
        self, *args: Any, supervisors: Any = None, hierarchy: bool = True, **kwargs: Any
    ) -> None:
        """`hierarchy=False` (organisation admins): type, supervising authority and active
        state are shown but cannot be changed here; the platform admins change them."""
        super().__init__(*args, **kwargs)
        parent = self.fields["parent"]
        assert isinstance(parent, forms.ModelChoiceField)
        queryset = Organisation.objects.filter(kind__in=SUPERVISING_KINDS)
        parent.queryset = supervisors if supervisors is not None else queryset
        if not hierarchy:
            for name in ("kind", "parent", "is_active"):
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Only the platform admins change this.")
            if self.instance.parent_id is not None:
                # The current authority is shown even when it is one the admin cannot read.
                parent.queryset = Organisation.objects.filter(pk=self.instance.parent_id)


class NetworkClaimForm(forms.ModelForm[NetworkClaim]):
    class Meta:
        model = NetworkClaim
        fields = ["kind", "value", "note"]
        widgets = {
            "value": forms.TextInput(attrs={"placeholder": "192.0.2.0/24, AS64500, example.gov.tw"})
        }


class ContactForm(forms.ModelForm[Contact]):
    class Meta:
        model = Contact
        fields = ["purpose", "name", "email", "phone", "pgp_key"]
        widgets = {"pgp_key": forms.Textarea(attrs={"rows": 3})}


def _offer_roles(form: forms.Form, roles: Collection[str] | None) -> None:
    """Offer only the roles the signed-in person may grant."""
    field = form.fields["role"]
    assert isinstance(field, forms.ChoiceField)
    field.choices = [(v, label) for v, label in Role.choices if roles is None or v in roles]


class MembershipForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)

    def __init__(self, *args: Any, roles: Collection[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_roles(self, roles)


class UserCreateForm(forms.Form):
    username = forms.RegexField(
        label=_("Username"),
        max_length=150,
        regex=r"^[\w.@+-]+\Z",
        error_messages={"invalid": _("Letters, digits and @ . + - _ only.")},
    )
    email = forms.EmailField(label=_("E-mail"))
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    organisation = forms.ModelChoiceField(
        label=_("Organisation"), queryset=Organisation.objects.none()
    )
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)

    def __init__(
        self, *args: Any, organisations: Any, roles: Collection[str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organisation"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = organisations
        _offer_roles(self, roles)


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What will use it"))
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=list(SCOPES.items()), widget=forms.CheckboxSelectMultiple
    )
    days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=366, initial=90)

    def __init__(self, *args: Any, allowed: Collection[str] | None = None, **kwargs: Any) -> None:
        """`allowed`: the scopes the user's roles allow; only those are offered."""
        super().__init__(*args, **kwargs)
        field = self.fields["scopes"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(k, v) for k, v in SCOPES.items() if allowed is None or k in allowed]
