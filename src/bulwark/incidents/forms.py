from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.models import Organisation
from bulwark.incidents.indicators import InvalidIndicator, parse_lines
from bulwark.incidents.models import IMPACT_CHOICES, SECRET_CHOICES, TLP_CHOICES, FinalReport
from bulwark.incidents.taxonomy import CLASS_CHOICES, TYPE_CHOICES

LEVEL_CHOICES = [("", _("Use the proposed level"))] + [(str(n), f"L{n}") for n in range(1, 5)]
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class AnswersForm(forms.Form):
    """The questions that decide the level (also posted alone to propose a level)."""

    confidentiality = forms.ChoiceField(
        label=_("Leak (confidentiality)"), choices=IMPACT_CHOICES, initial="none"
    )
    integrity = forms.ChoiceField(
        label=_("Alteration (integrity)"), choices=IMPACT_CHOICES, initial="none"
    )
    availability = forms.ChoiceField(
        label=_("Outage (availability)"), choices=IMPACT_CHOICES, initial="none"
    )
    core_system = forms.BooleanField(label=_("A core business system is affected"), required=False)
    critical_infrastructure = forms.BooleanField(
        label=_("Critical infrastructure is involved"), required=False
    )
    restored_in_time = forms.NullBooleanField(
        label=_("Restored within the tolerable interruption time"),
        widget=forms.Select(
            choices=[
                ("unknown", _("Not known / no outage")),
                ("true", _("Yes")),
                ("false", _("No")),
            ]
        ),
        required=False,
    )
    secret = forms.ChoiceField(label=_("Secrets involved"), choices=SECRET_CHOICES, initial="none")


class ReportForm(AnswersForm):
    organisation = forms.ModelChoiceField(
        label=_("Reporting organisation"), queryset=Organisation.objects.none()
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("What happened"), max_length=20_000, widget=forms.Textarea(attrs={"rows": 5})
    )
    rsit_class = forms.ChoiceField(label=_("Class (RSIT)"), choices=CLASS_CHOICES)
    rsit_type = forms.ChoiceField(label=_("Type (RSIT)"), choices=TYPE_CHOICES)
    aware_at = forms.DateTimeField(
        label=_("When did you become aware? (local time)"), widget=DATETIME
    )
    indicators = forms.CharField(
        label=_("Indicators (one per line: IP, domain, URL, hash, e-mail)"),
        required=False,
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    affected_systems = forms.CharField(
        label=_("Affected systems"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    level = forms.TypedChoiceField(
        label=_("Level"), choices=LEVEL_CHOICES, coerce=int, empty_value=None, required=False
    )
    level_reason = forms.CharField(label=_("Why another level?"), required=False, max_length=2000)
    tlp = forms.ChoiceField(label="TLP", choices=TLP_CHOICES, initial="amber")
    is_drill = forms.BooleanField(label=_("This is a drill"), required=False)
    reported_at = forms.DateTimeField(
        label=_("Already reported another way at (local time)"), required=False, widget=DATETIME
    )
    backfill_reason = forms.CharField(
        label=_("How and why it was reported another way"), required=False, max_length=2000
    )

    field_order = [
        "organisation", "title", "description", "rsit_class", "rsit_type", "aware_at",
        "affected_systems", "indicators", "confidentiality", "integrity", "availability",
        "core_system", "critical_infrastructure", "restored_in_time", "secret", "level",
        "level_reason", "tlp", "is_drill", "reported_at", "backfill_reason",
    ]  # fmt: skip

    def __init__(self, *args: Any, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations  # type: ignore[attr-defined]

    def clean_indicators(self) -> list[tuple[str, str]]:
        try:
            return parse_lines(self.cleaned_data["indicators"])
        except InvalidIndicator as exc:
            raise forms.ValidationError(str(exc)) from None


class LevelForm(forms.Form):
    """A level chosen by a person: nothing is preselected (a preselected L1 once turned an
    L3 case into L1 with one click), and a level other than the current one needs a reason
    (the services refuse it without one)."""

    level = forms.TypedChoiceField(
        label=_("Level"),
        choices=[("", _("Choose a level"))] + [(str(n), f"L{n}") for n in range(1, 5)],
        coerce=int,
        empty_value=None,
    )
    comment = forms.CharField(
        label=_("Reason (required when the level changes)"), required=False, max_length=2000
    )


class NoteForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            ("note", _("Note")),
            ("action", _("Action taken")),
            ("guidance", _("CERT guidance")),
            ("ciso_meeting", _("CISO meeting record")),
        ],
    )
    text = forms.CharField(
        label=_("Text"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, cert_staff: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not cert_staff:  # only the CERT gives guidance (the service refuses it too)
            field = self.fields["kind"]
            field.choices = [c for c in field.choices if c[0] != "guidance"]  # type: ignore[attr-defined]


class RecoveryForm(forms.Form):
    completed_at = forms.DateTimeField(
        label=_("Damage control / recovery completed at (local time)"), widget=DATETIME
    )
    summary = forms.CharField(
        label=_("What was done"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 3})
    )


class FinalReportForm(forms.ModelForm):
    class Meta:
        model = FinalReport
        fields = list(FinalReport.ITEMS)
        widgets = {f: forms.Textarea(attrs={"rows": 3}) for f in FinalReport.ITEMS}


class DecisionForm(forms.Form):
    approve = forms.TypedChoiceField(
        label=_("Decision"),
        choices=[("1", _("Approve and close")), ("0", _("Revision required"))],
        coerce=lambda v: v == "1",
    )
    comment = forms.CharField(label=_("Comment"), required=False, max_length=10_000)


class ExtensionForm(forms.Form):
    until = forms.DateTimeField(label=_("Final report due (local time)"), widget=DATETIME)
    reason = forms.CharField(label=_("Approved reason"), max_length=2000)


class EvidenceForm(forms.Form):
    file = forms.FileField(label=_("File"), allow_empty_file=False)
    description = forms.CharField(label=_("Description"), required=False, max_length=500)


class ReferralForm(forms.Form):
    organisation = forms.ModelChoiceField(
        label=_("Law-enforcement organisation"),
        queryset=Organisation.objects.filter(kind="lea", is_active=True),
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Task"), max_length=300)
    owner = forms.CharField(label=_("Owner (username)"), max_length=150)
    due_at = forms.DateTimeField(label=_("Due (local time)"), widget=DATETIME)
