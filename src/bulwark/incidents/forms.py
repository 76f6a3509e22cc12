from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.models import Organisation, User
from bulwark.constituency.timezones import zone_label
from bulwark.core.observables import InvalidIndicator
from bulwark.incidents import services
from bulwark.incidents.indicators import parse_lines
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import IMPACT_CHOICES, SECRET_CHOICES, TLP_CHOICES, FinalReport
from bulwark.incidents.taxonomy import CLASS_CHOICES, RSIT

LEVEL_CHOICES = [("", _("Use the proposed level"))] + [(str(n), f"L{n}") for n in range(1, 5)]
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


ANSWER_FIELDS = (
    "confidentiality", "integrity", "availability", "core_system", "critical_infrastructure",
    "restored_in_time", "secret",
)  # fmt: skip


class ZoneNamed:
    """Every time input names the zone it is read in (the person's zone, see
    constituency/timezones.py): 'Due (Asia/Taipei, UTC+08:00)'."""

    fields: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        label = zone_label()
        for field in self.fields.values():
            if isinstance(field, forms.DateTimeField):
                field.label = f"{field.label} ({label})"


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


class ReportForm(ZoneNamed, AnswersForm):
    organisation = forms.ModelChoiceField(
        label=_("Reporting organisation"), queryset=Organisation.objects.none()
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("What happened"), max_length=20_000, widget=forms.Textarea(attrs={"rows": 5})
    )
    rsit_class = forms.ChoiceField(label=_("Class (RSIT)"), choices=CLASS_CHOICES)
    # Grouped by class: static/js/bulwark.js shows only the chosen class's group.
    rsit_type = forms.ChoiceField(
        label=_("Type (RSIT)"),
        choices=[(c, [(t, t) for t in types]) for c, types in RSIT.items()],
        widget=forms.Select(attrs={"data-follows": "id_rsit_class"}),
    )
    aware_at = forms.DateTimeField(label=_("When did you become aware?"), widget=DATETIME)
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
        label=_("Already reported another way at"), required=False, widget=DATETIME
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
        self.fields["organisation"].queryset = organisations

    def clean_indicators(self) -> list[tuple[str, str]]:
        try:
            return parse_lines(self.cleaned_data["indicators"])
        except InvalidIndicator as exc:
            raise forms.ValidationError(str(exc)) from None

    def answers(self) -> Answers | None:
        """The impact answers, when every one of them could be read."""
        data = self.cleaned_data
        if any(name in self.errors for name in ANSWER_FIELDS):
            return None
        return Answers(**{name: data[name] for name in ANSWER_FIELDS})

    def clean(self) -> dict[str, Any]:
        """The report's rules (services.report_problems) are checked here too, so one
        submit shows every problem at once, beside the field's own errors."""
        data = super().clean() or {}
        problems = services.report_problems(
            organisation=data.get("organisation"),
            rsit_class=data.get("rsit_class"),
            rsit_type=data.get("rsit_type"),
            aware_at=data.get("aware_at"),
            reported_at=data.get("reported_at"),
            backfill_reason=data.get("backfill_reason", ""),
            answers=self.answers(),
            level=data.get("level"),
            level_reason=data.get("level_reason", ""),
        )
        for field, message in problems.items():
            if field not in self.errors:
                self.add_error(field if field in self.fields else None, message)
        return data


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


class RecoveryForm(ZoneNamed, forms.Form):
    completed_at = forms.DateTimeField(
        label=_("Damage control / recovery completed at"), widget=DATETIME
    )
    summary = forms.CharField(
        label=_("What was done"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 3})
    )


class FinalReportForm(forms.ModelForm[FinalReport]):
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
    close_with_open_tasks = forms.BooleanField(
        label=_("Close even though tasks are still open"), required=False
    )


class ExtensionForm(ZoneNamed, forms.Form):
    until = forms.DateTimeField(label=_("Final report due"), widget=DATETIME)
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


class TaskForm(ZoneNamed, forms.Form):
    title = forms.CharField(label=_("Task"), max_length=300)
    owner = forms.CharField(label=_("Owner (username)"), max_length=150)
    due_at = forms.DateTimeField(label=_("Due"), widget=DATETIME)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label=_("Assignee (CERT staff)"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("Nobody"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = services.cert_staff_users()  # type: ignore[attr-defined]


class TagsForm(forms.Form):
    tags = forms.CharField(
        label=_("Tags (separated by spaces or commas)"), required=False, max_length=1000
    )


class IndicatorTagsForm(forms.Form):
    indicator = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    tags = forms.CharField(label=_("Tags of this observable"), required=False, max_length=1000)


class SavedFilterForm(forms.Form):
    name = forms.CharField(label=_("Save this filter as"), max_length=100)
    query = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)


class CaseTemplateForm(forms.Form):
    rsit_class = forms.ChoiceField(label=_("Class (RSIT)"), choices=CLASS_CHOICES)
    tasks = forms.CharField(
        label=_("Tasks, one a line: hours after the response starts | what to do"),
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "4 | Isolate the affected hosts"}),
    )
