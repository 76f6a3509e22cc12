"""The exercise pages' forms: an exercise, an inject with its expectations, a
response, a score, the lessons learned, an improvement item and its progress."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.models import Organisation, OrganisationKind, User
from bulwark.drills.forms import AGENCY_KINDS, DATETIME
from bulwark.drills.models import Exercise, ExerciseTeam, Expectation, ImprovementItem, Inject

MAX_EXPECTATIONS = 3
CERT_STAFF = User.objects.filter(
    memberships__organisation__kind=OrganisationKind.NATIONAL_CERT, is_active=True
).distinct()


class ExerciseForm(forms.ModelForm[Exercise]):
    organisations = forms.ModelMultipleChoiceField(
        label=_("Agencies taking part (one team each)"),
        queryset=Organisation.objects.filter(kind__in=AGENCY_KINDS, is_active=True),
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    control_team = forms.ModelMultipleChoiceField(
        label=_("Control team"), required=False,
        queryset=CERT_STAFF,
        help_text=_("CERT staff who run the exercise (you, when none is chosen)."),
    )  # fmt: skip
    evaluators = forms.ModelMultipleChoiceField(
        label=_("Evaluators"), required=False,
        queryset=CERT_STAFF,
        help_text=_("CERT staff who score the teams' expectations."),
    )  # fmt: skip

    class Meta:
        model = Exercise
        fields = [
            "title", "kind", "scope", "role", "organiser", "scenario_en", "scenario_zh_hant",
            "planned_start",
        ]  # fmt: skip
        widgets = {"planned_start": DATETIME}

    def service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        return {
            "organisations": list(data.pop("organisations")),
            "control_team": list(data.pop("control_team") or []),
            "evaluators": list(data.pop("evaluators") or []),
            **data,
        }


class InjectForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    offset_minutes = forms.IntegerField(label=_("Minutes after the start"), min_value=0)
    channel = forms.ChoiceField(label=_("Channel"), choices=Inject.Channel.choices)
    body_en = forms.CharField(
        label=_("Message (English, Markdown)"), widget=forms.Textarea(attrs={"rows": 4}),
        max_length=20000,
    )  # fmt: skip
    body_zh_hant = forms.CharField(
        label=_("Message (Traditional Chinese, Markdown)"), required=False, max_length=20000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i in range(1, MAX_EXPECTATIONS + 1):
            self.fields[f"kind_{i}"] = forms.ChoiceField(
                label=_("Expectation %(n)s") % {"n": i},
                choices=[("", "—"), *Expectation.Kind.choices], required=False,
            )  # fmt: skip
            self.fields[f"expect_{i}"] = forms.CharField(
                label=_("What the team is expected to do"), max_length=500, required=False
            )
            self.fields[f"points_{i}"] = forms.IntegerField(
                label=_("Points"), min_value=1, max_value=1000, initial=100, required=False
            )

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        for i in range(1, MAX_EXPECTATIONS + 1):
            if bool(data.get(f"kind_{i}")) != bool((data.get(f"expect_{i}") or "").strip()):
                self.add_error(f"expect_{i}", _("Give both the kind and the text, or neither."))
        return data

    @classmethod
    def of(cls, inject: Inject) -> "InjectForm":
        """The form filled in with an inject and its expectations (to edit it)."""
        initial: dict[str, Any] = {
            "title": inject.title, "offset_minutes": inject.offset_minutes,
            "channel": inject.channel, "body_en": inject.body_en,
            "body_zh_hant": inject.body_zh_hant,
        }  # fmt: skip
        for i, e in enumerate(inject.expectations.all()[:MAX_EXPECTATIONS], start=1):
            initial.update({f"kind_{i}": e.kind, f"expect_{i}": e.description,
                            f"points_{i}": e.points})  # fmt: skip
        return cls(initial=initial)

    def expectations(self) -> list[tuple[str, str, int]]:
        data = self.cleaned_data
        return [
            (data[f"kind_{i}"], data[f"expect_{i}"], data.get(f"points_{i}") or 100)
            for i in range(1, MAX_EXPECTATIONS + 1)
            if data.get(f"kind_{i}")
        ]


class ResponseForm(forms.Form):
    text = forms.CharField(
        label=_("Your team's response"), max_length=10000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip


class ScoreForm(forms.Form):
    score = forms.IntegerField(label=_("Score"), min_value=0, max_value=1000)
    comment = forms.CharField(label=_("Comment"), max_length=5000, required=False)


class LessonsForm(forms.Form):
    lessons = forms.CharField(
        label=_("Lessons learned (Markdown)"), max_length=50000,
        widget=forms.Textarea(attrs={"rows": 10}),
    )  # fmt: skip


class ItemForm(forms.Form):
    organisation = forms.ModelChoiceField(label=_("Agency"), queryset=Organisation.objects.none())
    title = forms.CharField(label=_("Improvement"), max_length=300)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    due_on = forms.DateField(label=_("Due"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, exercise: Exercise, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        orgs = exercise.teams.values("organisation_id")
        org_field = self.fields["organisation"]
        owner_field = self.fields["owner"]
        assert isinstance(org_field, forms.ModelChoiceField)
        assert isinstance(owner_field, forms.ModelChoiceField)
        org_field.queryset = Organisation.objects.filter(pk__in=orgs)
        owner_field.queryset = User.objects.filter(
            memberships__organisation_id__in=orgs, is_active=True
        ).distinct()


class ItemProgressForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), choices=ImprovementItem.State.choices)
    note = forms.CharField(label=_("Progress note"), max_length=5000, required=False)


class PlayersForm(forms.Form):
    """The players of one team: members of the team's agency (none: all of them)."""

    players = forms.ModelMultipleChoiceField(
        label=_("Players"), required=False, queryset=User.objects.none(),
        help_text=_("None chosen: every member of the agency plays and is told of injects."),
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )  # fmt: skip

    def __init__(self, *args: Any, team: ExerciseTeam, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"team-{team.pk}")
        kwargs.setdefault("initial", {"players": list(team.players.all())})
        super().__init__(*args, **kwargs)
        field = self.fields["players"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = (
            User.objects.filter(memberships__organisation_id=team.organisation_id, is_active=True)
            .distinct()
            .order_by("username")
        )
        self.team = team


class EvaluatorsForm(forms.Form):
    """The evaluators: CERT staff, and for an international exercise people of other
    organisations on the platform (outside evaluators)."""

    evaluators = forms.ModelMultipleChoiceField(
        label=_("Evaluators"), required=False, queryset=User.objects.none(),
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )  # fmt: skip

    def __init__(self, *args: Any, exercise: Exercise, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"evaluators": list(exercise.evaluators.all())})
        super().__init__(*args, **kwargs)
        field = self.fields["evaluators"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        if exercise.scope == Exercise.Scope.INTERNATIONAL:
            field.queryset = (
                User.objects.filter(memberships__isnull=False, is_active=True)
                .distinct()
                .order_by("username")
            )
            field.help_text = _(
                "CERT staff, or people of other organisations on the platform (e.g. a "
                "foreign CERT): an outside evaluator sees only this exercise's delivered "
                "injects, the teams' responses and the scores."
            )
        else:
            field.queryset = CERT_STAFF.order_by("username")
            field.help_text = _("CERT staff who score the teams' expectations.")
