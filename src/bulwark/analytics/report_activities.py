"""The annual report's activity sections beyond incidents: "Drills & exercises", "Audits &
findings" and "Training & competitions".

Each is counted live from the owning app's selectors and `visible_to(user)` querysets, as
the reader sees the data (an agency's report shows its own drills, findings and staff, an
authority its agencies', the CERT everything): the same rule as the rest of the report.
Drill incidents (`is_drill`) appear here only, as response drills; the incident figures
leave them out. Each section is a few headline facts and a few tables (`Table`), laid out
by `analytics/report_table.html` in the HTML page and the PDF alike."""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from bulwark.analytics.figures.common import localised_name
from bulwark.analytics.periods import Period
from bulwark.core.permissions import Reader
from bulwark.drills import calendar as drill_calendar
from bulwark.drills import selectors as drill_selectors
from bulwark.drills.models import DrillObligation, Exercise
from bulwark.findings import selectors as finding_selectors
from bulwark.findings.models import ACTIVE_STATUSES, SEVERITY_ORDER, Engagement, Finding, Severity
from bulwark.training import selectors as training_selectors
from bulwark.training.engine.hours import Standing
from bulwark.training.models import (
    Category,
    Participant,
    TrainingRole,
)

# Agencies listed in the hours-compliance table, least compliant first.
AGENCIES_LISTED = 40


@dataclass
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""


@dataclass
class Section:
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def _n(value: float | int | None) -> str:
    if value is None:
        return "—"
    integral = float(value).is_integer()
    return number_format(value, decimal_pos=0 if integral else 1, use_l10n=True,
                         force_grouping=True)  # fmt: skip


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


SECTOR_NAMES = ("organisation__sector__name", "organisation__sector__name_zh_hant")


def _sector(en: str | None, zh: str | None) -> str:
    """The sector's name in the report's language; "—" for organisations without one."""
    return localised_name(en, zh) if en else "—"


def _share(part: int, whole: int) -> str:
    return _pct(100.0 * part / whole if whole else None)


# --------------------------------------------------------------------------- drills


def _exercise_table(user: Reader, year: int) -> Table | None:
    """Exercises of the year (`drills.selectors.exercise_figures`): held by the CERT and
    taken part in, per kind and scope, agencies with a team, the mean score and the
    improvement items' states. Left out when the reader sees none."""
    found = drill_selectors.exercise_figures(user, year)
    if not (found["held"] or found["took_part"]):
        return None
    table = Table(
        "exercises",
        _("Exercises held and taken part in"),
        [_("Exercise"), str(Exercise.Role.HELD.label), str(Exercise.Role.TOOK_PART.label)],
    )
    by_kind = found["by_kind_and_scope"]
    for kind in Exercise.Kind:
        for scope in Exercise.Scope:
            key = f"{kind.value}_{scope.value}"
            held = by_kind[Exercise.Role.HELD.value][key]
            took_part = by_kind[Exercise.Role.TOOK_PART.value][key]
            if held or took_part:
                table.rows.append([f"{kind.label}, {scope.label}", _n(held), _n(took_part)])
    table.rows.append([_("All exercises"), _n(found["held"]), _n(found["took_part"])])
    items = found["items"]
    table.note = _(
        "Agencies with a team: %(agencies)s. Mean score: %(score)s. Improvement items: "
        "%(open)s open, %(progress)s in progress, %(done)s done."
    ) % {
        "agencies": _n(found["agencies"]),
        "score": _pct(found["mean_score"]),
        "open": _n(items.get("open", 0)),
        "progress": _n(items.get("in_progress", 0)),
        "done": _n(items.get("done", 0)),
    }
    return table


def drills_section(user: Reader, period: Period) -> Section:
    """Campaigns held in the year (human rates), agencies taking part, response drills
    with the clocks they met, and the statutory drill calendar's states."""
    section = Section()
    campaigns = Table(
        "campaigns",
        _("Social-engineering campaigns"),
        [
            _("Campaign"),
            _("First day"),
            _("Agencies"),
            _("Delivered"),
            _("Open rate"),
            _("Click rate"),
            _("Report rate"),
            _("Passed"),
            _("Failed"),
        ],
        note=_(
            "Human events only: opens and clicks by mail security scanners are kept apart. "
            "An agency passes when its open and click rates are under the campaign's targets."
        ),
    )
    agencies: set[int] = set()
    total = drill_selectors.Rates()
    for found in drill_selectors.campaign_figures(user, period.start, period.end):
        agencies |= set(found.agencies)
        total.add(found.total)
        t, campaign = found.total, found.campaign
        campaigns.rows.append([
            campaign.name, campaign.starts_at.date().isoformat(), _n(len(found.agencies)),
            _n(t.sent), _pct(t.open_rate), _pct(t.click_rate), _pct(t.report_rate),
            _n(found.passed), _n(found.failed),
        ])  # fmt: skip
    notices = list(
        drill_selectors.notices(user).filter(sent_at__gte=period.start, sent_at__lt=period.end)
    )
    scores = [drill_selectors.score(n) for n in notices]
    met = sum(s.met for s in scores)
    decided = sum(s.decided for s in scores)
    section.facts = [
        (_("Campaigns held"), _n(len(campaigns.rows))),
        (_("Agencies taking part"), _n(len(agencies))),
        (_("Messages delivered"), _n(total.sent)),
        (_("Human click rate"), _pct(total.click_rate)),
        (_("Human report rate"), _pct(total.report_rate)),
        (_("Response drills"), _n(len(notices))),
        (
            _("Response drills reported as drill incidents"),
            _n(sum(1 for n in notices if n.incident_id is not None)),
        ),
        (
            _("Statutory clocks met in response drills"),
            f"{_n(met)} / {_n(decided)} ({_share(met, decided)})",
        ),
    ]
    if campaigns.rows:
        section.tables.append(campaigns)
    exercises = _exercise_table(user, period.first.year)
    if exercises is not None:
        section.tables.append(exercises)
    section.tables.append(_drill_calendar(user, period))
    return section


def _drill_calendar(user: Reader, period: Period) -> Table:
    states = (drill_calendar.DONE, drill_calendar.LATE, drill_calendar.MISSING, drill_calendar.DUE)
    labels = {drill_calendar.DONE: _("done"), drill_calendar.LATE: _("late"),
              drill_calendar.MISSING: _("missing"), drill_calendar.DUE: _("due")}  # fmt: skip
    counts = drill_selectors.compliance_counts(user, period.start, period.end)
    table = Table(
        "drill_calendar",
        _("Statutory drills due in the year"),
        [_("Drill"), *(labels[s] for s in states)],
        note=_("Agencies with at least one drill late: %(late)s; missing: %(missing)s.")
        % {
            "late": _n(counts.agencies_with(drill_calendar.LATE)),
            "missing": _n(counts.agencies_with(drill_calendar.MISSING)),
        },
    )
    for kind, label in DrillObligation.Kind.choices:
        per_state = counts.per_kind.get(kind, Counter())
        table.rows.append([str(label), *(_n(per_state[s]) for s in states)])
    return table


# --------------------------------------------------------------------------- findings


def findings_section(user: Reader, period: Period) -> Section:
    """Engagements started in the year, findings first seen in it by sector and severity,
    and how their remediation stood at the year's end (today for the current year), from
    their status history."""
    section = Section()
    found = Finding.objects.visible_to(user).filter(
        first_seen__gte=period.start, first_seen__lt=period.end
    )
    moment = min(period.end, timezone.now())
    board = finding_selectors.dashboard_at(found, moment)
    labels = dict(Severity.choices)
    by_sector: dict[str, Counter[str]] = defaultdict(Counter)
    for en, zh, severity, n in (
        found.values_list(*SECTOR_NAMES, "severity").annotate(n=Count("pk")).order_by()
    ):  # fmt: skip
        by_sector[_sector(en, zh)][severity] += n
    sectors = Table(
        "findings_by_sector",
        _("Findings by sector and severity"),
        [_("Sector"), *(str(labels[s]) for s in SEVERITY_ORDER), _("Total")],
    )
    for name, counts in sorted(by_sector.items(), key=lambda kv: -sum(kv[1].values())):
        sectors.rows.append(
            [name, *(_n(counts[s]) for s in SEVERITY_ORDER), _n(sum(counts.values()))]
        )
    active_by_sector: Counter[str] = Counter()
    for en, zh, n in (
        finding_selectors.status_at(found, moment)
        .filter(Q(status_then__in=ACTIVE_STATUSES)).values_list(*SECTOR_NAMES)
        .annotate(n=Count("pk")).order_by()
    ):  # fmt: skip
        active_by_sector[_sector(en, zh)] += n
    engagements = (
        Engagement.objects.visible_to(user)
        .filter(starts_on__gte=period.first, starts_on__lte=period.last)
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    kinds = dict(Engagement._meta.get_field("kind").choices or [])
    held = Table(
        "engagements",
        _("Engagements started in the year"),
        [_("Kind"), _("Engagements")],
        [[str(kinds.get(k, k)), _n(n)] for k, n in engagements],
    )
    total = sum(sum(c.values()) for c in by_sector.values())
    section.facts = [
        (_("Engagements started"), _n(sum(n for _k, n in engagements))),
        (_("Findings first seen in the year"), _n(total)),
        (_("Still to remediate"), _n(board.open_total)),
        (_("Past their deadline"), _n(board.overdue)),
        (_("Mean days to remediate"), _n(board.mean_days_to_remediate)),
        (_("Remediated on time (SLA compliance)"), _pct(board.sla_compliance)),
    ]
    sectors.note = _(
        "Findings first seen in the year; their status as at the year's end (today for "
        "the current year). Still to remediate per sector: %(list)s."
    ) % {"list": ", ".join(f"{k or '—'} {_n(v)}" for k, v in active_by_sector.items()) or "—"}
    if held.rows:
        section.tables.append(held)
    section.tables.append(sectors)
    return section


# --------------------------------------------------------------------------- training


def training_section(user: Reader, period: Period) -> Section:
    """Statutory hours compliance per role and agency, courses completed, exams passed,
    and competitions with their participants by category and sector."""
    section = Section()
    year = period.first.year
    standing = training_selectors.compliance(user, year)
    shortfall = (Standing.BEHIND, Standing.MISSED)
    roles = Table(
        "hours_by_role",
        _("Statutory training hours by role"),
        [_("Role"), _("People"), _("Met"), _("Not met"), _("Met %")],
    )
    role_labels = dict(TrainingRole.choices)
    for role, summary in sorted(standing.by_role.items()):
        if not summary.assessed:
            continue
        roles.rows.append([
            str(role_labels.get(role, role)), _n(summary.assessed),
            _n(summary.counts[Standing.MET]), _n(sum(summary.counts[s] for s in shortfall)),
            _pct(summary.met_percent),
        ])  # fmt: skip
    ranked = sorted(
        ((standing.organisations.get(org_id), s) for org_id, s in standing.by_org.items()),
        key=lambda pair: (pair[1].met_percent if pair[1].met_percent is not None else 101,
                          pair[0].name if pair[0] else ""),
    )  # fmt: skip
    agencies = Table(
        "hours_by_agency",
        _("Statutory training hours by agency"),
        [_("Agency"), _("People"), _("Met"), _("Met %")],
    )
    for org, summary in ranked:
        if not summary.assessed:
            continue
        agencies.rows.append([
            org.name if org else "—", _n(summary.assessed),
            _n(summary.counts[Standing.MET]), _pct(summary.met_percent),
        ])  # fmt: skip
    if len(agencies.rows) > AGENCIES_LISTED:
        agencies.note = _("The %(n)s least compliant of %(total)s agencies.") % {
            "n": AGENCIES_LISTED,
            "total": _n(len(agencies.rows)),
        }
        agencies.rows = agencies.rows[:AGENCIES_LISTED]
    chinese = (get_language() or "").lower().startswith("zh")

    def title(english: Any, zh: Any) -> str:
        return str(zh) if chinese and zh else str(english)

    completed = [
        (title(en, zh), n)
        for en, zh, n in training_selectors.enrolments(user)
        .filter(completed_at__gte=period.start, completed_at__lt=period.end)
        .values_list("course__title", "course__title_zh_hant")
        .annotate(n=Count("pk")).order_by("-n", "course__title")
    ]  # fmt: skip
    courses = Table(
        "courses", _("Courses completed"), [_("Course"), _("Completed")],
        [[name, _n(n)] for name, n in completed],
    )  # fmt: skip
    exams = Table("exams", _("Exams"), [_("Course"), _("Attempts"), _("Passed"), _("Pass rate")])
    attempts = (
        training_selectors.attempts(user)
        .filter(finished_at__gte=period.start, finished_at__lt=period.end)
        .values_list("exam__course__title", "exam__course__title_zh_hant")
        .annotate(n=Count("pk"), passed=Count("pk", filter=Q(passed=True)))
        .order_by("exam__course__title")
    )
    passes = 0
    for en, zh, n, passed in attempts:
        passes += passed
        exams.rows.append([title(en, zh), _n(n), _n(passed), _share(passed, n)])
    participants = Participant.objects.visible_to(user).filter(
        competition__starts_at__gte=period.start, competition__starts_at__lt=period.end
    )
    categories = dict(Category.choices)
    competitions = Table(
        "competitions",
        _("Competitions and participants by category"),
        [_("Competition"), *(str(label) for label in categories.values()), _("Total")],
    )
    per_competition: dict[str, Counter[str]] = defaultdict(Counter)
    for name, category, n in (
        participants.values_list("competition__name", "category")
        .annotate(n=Count("pk")).order_by("competition__name")
    ):  # fmt: skip
        per_competition[name][category] += n
    for name, counts in per_competition.items():
        competitions.rows.append(
            [name, *(_n(counts[c]) for c in categories), _n(sum(counts.values()))]
        )
    by_sector = Table(
        "participants_by_sector",
        _("Competition participants by sector"),
        [_("Sector"), _("Participants")],
    )
    per_sector: Counter[str] = Counter()
    for en, zh, n in participants.values_list(*SECTOR_NAMES).annotate(n=Count("pk")).order_by():
        per_sector[_sector(en, zh)] += n
    by_sector.rows = [[name, _n(n)] for name, n in per_sector.most_common()]
    section.facts = [
        (_("People with statutory hours"), _n(standing.overall.assessed)),
        (_("Met their hours"), _pct(standing.overall.met_percent)),
        (_("Courses completed"), _n(sum(n for _t, n in completed))),
        (_("Exam passes"), _n(passes)),
        (_("Competitions"), _n(len(per_competition))),
        (_("Competition participants"), _n(sum(sum(c.values()) for c in per_competition.values()))),
    ]
    for table in (roles, agencies, courses, exams, competitions, by_sector):
        if table.rows:
            section.tables.append(table)
    return section


SECTION_BUILDERS: tuple[tuple[str, Callable[[Reader, Period], Section]], ...] = (
    ("drills", drills_section),
    ("findings", findings_section),
    ("training", training_section),
)


def activities(user: Reader, period: Period) -> dict[str, Section]:
    return {key: build(user, period) for key, build in SECTION_BUILDERS}
