"""Drill figures (issue 22): social-engineering campaigns with their human rates, exercises
held and taken part in, and the agencies' statutory drill compliance. Each is read through
the drills app's own selectors (`campaign_figures`, `exercise_figures`,
`compliance_counts`), the same ones the annual report's "Drills & exercises" section uses,
so both count the same rows the same way, as the reader may see them."""

from collections import Counter

from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.analytics.figure_table import Figure
from bulwark.analytics.periods import Period
from bulwark.core.permissions import Reader
from bulwark.drills import calendar as drill_calendar
from bulwark.drills import selectors as drill_selectors
from bulwark.drills.models import DrillObligation, Exercise


def drill_campaigns(user: Reader, period: Period, *, drills: bool = False) -> Figure:
    """Campaigns that started in the period: messages delivered, human open, click and
    report rates, agencies taking part, passed and failed."""
    found = drill_selectors.campaign_figures(user, period.start, period.end)
    total = drill_selectors.Rates()
    agencies: set[int] = set()
    for f in found:
        total.add(f.total)
        agencies |= set(f.agencies)
    return Figure(
        key="drill_campaigns",
        title=_("Social-engineering campaigns"),
        columns=(
            _("Campaign"),
            _("Delivered"),
            _("Open rate %"),
            _("Click rate %"),
            _("Report rate %"),
            _("Agencies"),
            _("Passed"),
            _("Failed"),
        ),
        rows=tuple(
            (
                f"{f.campaign.name} ({timezone.localdate(f.campaign.starts_at).isoformat()})",
                f.total.sent,
                f.total.open_rate,
                f.total.click_rate,
                f.total.report_rate,
                len(f.agencies),
                f.passed,
                f.failed,
            )
            for f in found
        ),
        chart="barh",
        note=_(
            "Human events only: opens and clicks by mail security scanners are kept apart. "
            "In all: %(campaigns)s campaigns, %(agencies)s agencies, human click rate "
            "%(click)s %%, human report rate %(report)s %%."
        )
        % {
            "campaigns": len(found),
            "agencies": len(agencies),
            "click": "—" if total.click_rate is None else total.click_rate,
            "report": "—" if total.report_rate is None else total.report_rate,
        },
    )


def drill_exercises(user: Reader, period: Period, *, drills: bool = False) -> Figure:
    """Exercises planned to start in the period, held by the CERT and taken part in, by
    kind and scope."""
    found = drill_selectors.exercise_figures(
        user, period.first.year, between=(period.start, period.end)
    )
    by_kind = found["by_kind_and_scope"]
    rows = []
    for kind in Exercise.Kind:
        for scope in Exercise.Scope:
            key = f"{kind.value}_{scope.value}"
            rows.append((
                f"{kind.label}, {scope.label}",
                by_kind[Exercise.Role.HELD.value][key],
                by_kind[Exercise.Role.TOOK_PART.value][key],
            ))  # fmt: skip
    score = found["mean_score"]
    return Figure(
        key="drill_exercises",
        title=_("Exercises held and taken part in"),
        columns=(_("Exercise"), str(Exercise.Role.HELD.label), str(Exercise.Role.TOOK_PART.label)),
        rows=tuple(rows),
        chart="barh",
        note=_("Agencies with a team: %(agencies)s. Mean score: %(score)s.")
        % {"agencies": found["agencies"], "score": "—" if score is None else f"{score} %"},
    )


def drill_compliance(user: Reader, period: Period, *, drills: bool = False) -> Figure:
    """The statutory drills due in the period by kind and state (done, late, missing,
    due), and the agencies with one late or missing."""
    counts = drill_selectors.compliance_counts(user, period.start, period.end)
    states = (drill_calendar.DONE, drill_calendar.LATE, drill_calendar.MISSING, drill_calendar.DUE)
    rows = []
    for kind, label in DrillObligation.Kind.choices:
        per_state = counts.per_kind.get(kind, Counter())
        rows.append((str(label), *(per_state.get(s, 0) for s in states)))
    return Figure(
        key="drill_compliance",
        title=_("Agencies' statutory drills"),
        columns=(_("Drill"), _("done"), _("late"), _("missing"), _("due")),
        rows=tuple(rows),
        chart="barh",
        note=_(
            "Agencies with drills due in the period: %(agencies)s; with at least one drill "
            "late: %(late)s; missing: %(missing)s."
        )
        % {
            "agencies": len(counts.per_org),
            "late": counts.agencies_with(drill_calendar.LATE),
            "missing": counts.agencies_with(drill_calendar.MISSING),
        },
    )
