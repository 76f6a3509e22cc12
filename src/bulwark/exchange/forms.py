"""The forms of exchange's analyst pages."""

from typing import Any

import orjson
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bulwark.constituency.models import Organisation
from bulwark.core.permissions import Reader
from bulwark.exchange.engine.formats import FORMATS
from bulwark.exchange.models import CountryNetwork


class RerouteForm(forms.Form):
    recipient = forms.ModelChoiceField(
        queryset=Organisation.objects.none(),
        required=False,
        label=gettext_lazy("New recipient"),
        empty_label=gettext_lazy("(unrouted queue)"),
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=120)

    def __init__(self, *args: Any, user: Reader = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipient"].queryset = Organisation.objects.visible_to(user).filter(  # type: ignore[attr-defined]
            is_active=True
        )


class ReplayForm(forms.Form):
    text = forms.CharField(label=gettext_lazy("Corrected text"), widget=forms.Textarea)


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Report file"))
    format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        required=False,
        choices=[("", gettext_lazy("detect")), *[(f, f) for f in FORMATS]],
    )
    feed = forms.CharField(label=gettext_lazy("Feed"), required=False, max_length=100)


class MappingForm(forms.Form):
    name = forms.SlugField(label=gettext_lazy("Name"), max_length=100)
    format = forms.ChoiceField(
        label=gettext_lazy("Format"), choices=[("csv", "CSV"), ("json", "JSON")], initial="csv"
    )
    mapping = forms.CharField(
        label=gettext_lazy("Mapping (JSON)"),
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "columns: IntelMQ field -> column name (or number without a header line); "
            "constants: field -> value; delimiter; header, comment, strip."
        ),
    )
    sample = forms.CharField(
        label=gettext_lazy("Sample (a few lines of the feed)"),
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        required=False,
    )

    def clean_mapping(self) -> dict[str, Any]:
        try:
            value = orjson.loads(self.cleaned_data["mapping"])
        except orjson.JSONDecodeError as exc:
            raise ValidationError(_("Not JSON: %(error)s") % {"error": exc}) from None
        if not isinstance(value, dict):
            raise ValidationError(_("A mapping is a JSON object."))
        return dict(value)


class FeedForm(forms.Form):
    name = forms.SlugField(label=gettext_lazy("Name"), max_length=100)
    url = forms.URLField(label=gettext_lazy("URL"), max_length=1000, assume_scheme="https")
    format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        required=False,
        choices=[("", gettext_lazy("detect")), *[(f, f) for f in FORMATS]],
    )
    mapping = forms.CharField(
        label=gettext_lazy("Column mapping"),
        required=False,
        max_length=100,
        help_text=gettext_lazy("For a generic CSV or JSON feed: the name of a saved mapping."),
    )
    interval_minutes = forms.IntegerField(
        label=gettext_lazy("Every (minutes)"), min_value=5, max_value=7 * 24 * 60, initial=60
    )
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False, initial=True)


class CountryNetworkForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=CountryNetwork.Kind.choices)
    value = forms.CharField(
        label=gettext_lazy("Prefix or AS number"),
        max_length=64,
        help_text=gettext_lazy("e.g. 203.0.113.0/24, 2001:db8::/32 or AS3462"),
    )
    country = forms.CharField(
        label=gettext_lazy("Country"),
        max_length=2,
        help_text=gettext_lazy("ISO 3166 code, e.g. TW"),
    )
