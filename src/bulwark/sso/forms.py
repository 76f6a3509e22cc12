from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.models import Organisation
from bulwark.sso.models import IdentityProvider
from bulwark.sso.services import PROVIDER_FIELDS


class SignInNameForm(forms.Form):
    slug = forms.SlugField(label=_("Your organisation's sign-in name"), max_length=50)


class ProviderForm(forms.ModelForm[IdentityProvider]):
    client_secret = forms.CharField(
        label=_("client secret"),
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave blank to keep the stored secret."),
    )
    issuer = forms.URLField(
        label=_("issuer"),
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=IdentityProvider._meta.get_field("issuer").help_text,
    )
    metadata_url = forms.URLField(
        label=_("IdP metadata URL"),
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=IdentityProvider._meta.get_field("metadata_url").help_text,
    )
    role_map = forms.JSONField(
        label=_("group -> role"),
        help_text=_('e.g. {"soc-admins": "org_admin", "staff": "reporter"}'),
    )
    organisation_values = forms.JSONField(
        label=_("organisation values"),
        required=False,
        help_text=_('e.g. ["MOEA"]; only with an organisation claim.'),
    )

    class Meta:
        model = IdentityProvider
        fields = list(PROVIDER_FIELDS)

    def __init__(self, *args: Any, organisations: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organisation"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = organisations if organisations is not None else Organisation.objects.none()

    def clean_organisation_values(self) -> Any:
        return self.cleaned_data.get("organisation_values") or []

    def _post_clean(self) -> None:
        """The service validates and saves; the form only parses."""
