"""The pages' forms: a campaign, its recipients (CSV), an improvement plan."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.models import Organisation, OrganisationKind
from bulwark.core import registry
from bulwark.drills.models import Campaign, SendingProfile
from bulwark.incidents.rsit import RSIT

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
MAX_CSV_BYTES = 5 << 20

AGENCY_KINDS = [
    OrganisationKind.GOVERNMENT_AGENCY, OrganisationKind.CI_OPERATOR, OrganisationKind.AUTHORITY,
]  # fmt: skip


class CampaignForm(forms.ModelForm[Campaign]):
    organisations = forms.ModelMultipleChoiceField(
        label=_("Agencies taking part"),
        queryset=Organisation.objects.filter(kind__in=AGENCY_KINDS, is_active=True),
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    sending_profile = forms.ModelChoiceField(
        label=_("Sending profile"), queryset=SendingProfile.objects.all()
    )

    class Meta:
        model = Campaign
        fields = [
            "name", "subject_en", "subject_zh_hant", "body_en", "body_zh_hant",
            "landing_en", "landing_zh_hant", "attachment_name", "tracking_domain",
            "sending_profile", "starts_at", "spread_days", "day_start", "day_end",
            "per_domain_per_hour", "open_threshold", "click_threshold", "previous",
            "course_code",
        ]  # fmt: skip
        widgets = {"starts_at": DATETIME, "day_start": TIME, "day_end": TIME}
        help_texts = {
            "body_en": _("Plain text; {{name}} is the recipient's name, {{link}} their link."),
            "body_zh_hant": _("Plain text; {{name}} is the recipient's name, {{link}} their link."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not registry.TRAINING_ENROLMENT.installed:  # the link to training is optional
            del self.fields["course_code"]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        for name in ("body_en", "body_zh_hant"):
            if data.get(name) and "{{link}}" not in data[name]:
                self.add_error(name, _("The message must contain {{link}}."))
        if data.get("day_start") and data.get("day_end") and data["day_end"] <= data["day_start"]:
            self.add_error("day_end", _("Business hours must end after they start."))
        return data

    def service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        return {"organisations": list(data.pop("organisations")), **data}


class RecipientsForm(forms.Form):
    file = forms.FileField(
        label=_("Recipients (CSV)"),
        help_text=_("Columns: email, organisation, name, department, language (en or zh-hant)."),
    )

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(_("The file is over 5 MB."))
        raw = upload.read()
        try:
            text: str = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = raw.decode("big5")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("Save the file as UTF-8 CSV.")) from None
        return text


class PlanForm(forms.Form):
    measures = forms.CharField(
        label=_("Measures"), widget=forms.Textarea(attrs={"rows": 6}), max_length=10000
    )


class ClosePlanForm(forms.Form):
    note = forms.CharField(
        label=_("Closing note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )


class NoticeForm(forms.Form):
    organisation = forms.ModelChoiceField(
        label=_("Agency"),
        queryset=Organisation.objects.filter(kind__in=AGENCY_KINDS, is_active=True),
    )
    scenario = forms.CharField(
        label=_("Scenario"), widget=forms.Textarea(attrs={"rows": 5}), max_length=5000
    )
    rsit_class = forms.ChoiceField(label=_("Class (RSIT)"), choices=[(c, c) for c in RSIT])
    rsit_type = forms.ChoiceField(
        label=_("Type (RSIT)"), choices=[(t, t) for types in RSIT.values() for t in types]
    )


class DrillReportForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("What happened"), widget=forms.Textarea(attrs={"rows": 5}), max_length=20000
    )


class HeldForm(forms.Form):
    held_at = forms.DateTimeField(label=_("Held"), widget=DATETIME)
    results_at = forms.DateTimeField(label=_("Results reported"), widget=DATETIME, required=False)
