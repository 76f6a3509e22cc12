"""Reads shared by the pages, the API and the exports, each narrowing a `visible_to`
queryset: campaign results per agency, sector and authority (human events only in the
rates), repeat clickers, time to first report, comparison with the previous campaign,
improvement plans and the compliance calendar."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation
from bulwark.core.permissions import Reader
from bulwark.drills import calendar
from bulwark.drills.models import (
    AgencyOutcome,
    Campaign,
    DrillEvent,
    DrillNotice,
    DrillObligation,
    EventKind,
    ImprovementPlan,
    Recipient,
)
from bulwark.incidents.clocks import ClockState
from bulwark.incidents.services import clock_states

# A person who clicked, opened the attachment or submitted also opened the mail (their
# client may block images): each counts towards the open rate.
OPEN_KINDS = [EventKind.OPENED, EventKind.CLICKED, EventKind.ATTACHMENT, EventKind.SUBMITTED]


def campaigns(user: Reader, params: Any = None) -> QuerySet[Campaign]:
    qs = Campaign.objects.visible_to(user).select_related("sending_profile")
    state = (params or {}).get("state", "")
    if state in Campaign.State.values:
        qs = qs.filter(state=state)
    return qs


@dataclass
class Rates:
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    submitted: int = 0
    reported: int = 0
    reported_first: int = 0
    automated: int = 0

    def pct(self, n: int) -> float | None:
        return round(100.0 * n / self.sent, 1) if self.sent else None

    @property
    def open_rate(self) -> float | None:
        return self.pct(self.opened)

    @property
    def click_rate(self) -> float | None:
        return self.pct(self.clicked)

    @property
    def submit_rate(self) -> float | None:
        return self.pct(self.submitted)

    @property
    def report_rate(self) -> float | None:
        return self.pct(self.reported)

    def add(self, other: "Rates") -> None:
        for name in ("sent", "opened", "clicked", "submitted", "reported", "reported_first",
                     "automated"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class AgencyRow(Rates):
    organisation_id: int = 0
    name: str = ""
    sector: str = ""
    authority: str = ""
    first_report_after: timedelta | None = None
    passed: bool | None = None
    previous: "Rates | None" = None
    plan: ImprovementPlan | None = None


def _outcomes(
    campaign: Campaign, org_ids: set[int] | None
) -> tuple[dict[int, Rates], dict[int, timedelta]]:
    """Per organisation: distinct people per outcome (human events only) and the time from
    its first delivered message to its first report. Read from the per-agency figures
    (`AgencyOutcome`, kept by triggers from the recipients' outcome columns, which the
    tracking services keep from the events), so the cost follows the number of agencies,
    not of people or events."""
    rows = AgencyOutcome.objects.filter(campaign=campaign)
    if org_ids is not None:
        rows = rows.filter(organisation_id__in=org_ids)
    counts: dict[int, Rates] = {}
    first: dict[int, timedelta] = {}
    for org_id, first_sent, first_reported, *figures in rows.values_list(
        "organisation_id", "first_sent_at", "first_reported_at", "sent", "opened", "clicked",
        "submitted", "reported", "reported_first", "automated",
    ):  # fmt: skip
        counts[org_id] = Rates(*figures)
        if first_sent and first_reported:
            first[org_id] = first_reported - first_sent
    return counts, first


def _counts(campaign: Campaign, org_ids: set[int] | None) -> dict[int, Rates]:
    return _outcomes(campaign, org_ids)[0]


def agency_results(campaign: Campaign, user: Reader = None) -> list[AgencyRow]:
    """One row per participating agency the user may see (all, with `user=None`: for
    services), with pass/fail against the campaign's thresholds and the previous
    campaign's rates for the same agency."""
    participants = campaign.participants.all()
    if user is not None:
        viewer = viewer_of(user)
        if not viewer.sees_everything:
            participants = participants.filter(organisation_id__in=viewer.managed_org_ids)
    orgs = {
        o.pk: o
        for o in Organisation.objects.filter(
            pk__in=participants.values("organisation_id")
        ).select_related("sector", "parent")
    }
    # Whoever sees every participant reads them unfiltered (a list of 500 ids would turn
    # the planner to the organisation index, one row lookup per person).
    limit = None if user is None or viewer_of(user).sees_everything else set(orgs)
    counts, first = _outcomes(campaign, limit)
    previous = _counts(campaign.previous, limit) if campaign.previous is not None else {}
    plans = {p.organisation_id: p for p in ImprovementPlan.objects.filter(campaign=campaign)}
    out = []
    for org_id, org in sorted(orgs.items(), key=lambda kv: kv[1].name):
        row = AgencyRow(
            organisation_id=org_id, name=org.name,
            sector=org.sector.name if org.sector else "",
            authority=org.parent.name if org.parent else "",
            first_report_after=first.get(org_id),
            previous=previous.get(org_id) if campaign.previous_id else None,
            plan=plans.get(org_id),
        )  # fmt: skip
        row.add(counts.get(org_id, Rates()))
        if row.sent:
            row.passed = (
                Decimal(str(row.open_rate)) < campaign.open_threshold
                and Decimal(str(row.click_rate)) < campaign.click_threshold
            )
        out.append(row)
    return out


def clicker_orgs(user: Reader, rows: list[AgencyRow]) -> set[int] | None:
    """The organisations whose repeat clickers the user sees: those of the rows, or None
    (no filter) for whoever sees everything (500 ids would only slow the query down)."""
    return None if viewer_of(user).sees_everything else {r.organisation_id for r in rows}


@dataclass
class Results:
    campaign: Campaign
    agencies: list[AgencyRow]
    total: Rates = field(default_factory=Rates)
    by_sector: dict[str, Rates] = field(default_factory=dict)
    by_authority: dict[str, Rates] = field(default_factory=dict)
    repeat_clickers: list[tuple[str, str, int]] = field(default_factory=list)


def results(campaign: Campaign, user: Reader, *, clickers: bool = True) -> Results:
    """The results the user may see. `clickers=False` leaves the repeat clickers out (the
    page reads them itself, to show a page of them)."""
    rows = agency_results(campaign, user)
    out = Results(campaign, rows)
    for row in rows:
        out.total.add(row)
        out.by_sector.setdefault(row.sector or "—", Rates()).add(row)
        out.by_authority.setdefault(row.authority or "—", Rates()).add(row)
    if clickers:
        out.repeat_clickers = repeat_clickers(campaign, clicker_orgs(user, rows))
    return out


def repeat_clickers(campaign: Campaign, org_ids: set[int] | None) -> list[tuple[str, str, int]]:
    """(e-mail, organisation, campaigns clicked) for people of these organisations (None:
    every one) who clicked in this campaign and in at least one earlier one (human clicks
    only), most campaigns first. One query read only from the clickers' partial indexes
    (no row, no join): the page shows a page of it and its length."""
    earlier = list(
        Campaign.objects.filter(starts_at__lte=campaign.starts_at).values_list("pk", flat=True)
    )
    here = Recipient.objects.filter(campaign=campaign, clicked_at__isnull=False)
    rows = Recipient.objects.filter(clicked_at__isnull=False, campaign_id__in=earlier)
    if org_ids is not None:
        here = here.filter(organisation_id__in=org_ids)
        rows = rows.filter(organisation_id__in=org_ids)
    rows = rows.filter(email__in=here.values("email"))
    found = list(
        rows.values_list("email", "organisation_id")
        .annotate(n=Count("campaign_id", distinct=True))
        .filter(n__gt=1)
        .order_by("-n", "email")
    )
    names = dict(
        Organisation.objects.filter(pk__in={o for _e, o, _n in found}).values_list("pk", "name")
    )
    return [(e, names.get(o, ""), n) for e, o, n in found]


def recipients(campaign: Campaign, user: Reader) -> QuerySet[Recipient]:
    return (
        Recipient.objects.visible_to(user).filter(campaign=campaign).select_related("organisation")
    )


def events(campaign: Campaign, user: Reader) -> QuerySet[DrillEvent]:
    return (
        DrillEvent.objects.visible_to(user)
        .filter(campaign=campaign)
        .select_related("recipient__organisation")
    )


def plans(user: Reader) -> QuerySet[ImprovementPlan]:
    return (
        ImprovementPlan.objects.visible_to(user)
        .select_related("campaign", "organisation")
        .order_by("state", "due_at")
    )


@dataclass
class CalendarRow:
    obligation: DrillObligation
    state: str


def compliance(user: Reader, now: datetime | None = None) -> list[CalendarRow]:
    now = now or timezone.now()
    return [
        CalendarRow(o, calendar.state(o.due_at, o.held_at, o.results_at, o.results_due_days, now))
        for o in DrillObligation.objects.visible_to(user).select_related("organisation")
    ]


@dataclass
class ComplianceCounts:
    """The statutory drill calendar's obligations due in a span, as a reader sees them:
    per drill kind, how many are in each state; per agency, the states it has."""

    per_kind: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    per_org: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))

    def agencies_with(self, state: str) -> int:
        return sum(1 for states in self.per_org.values() if state in states)


def compliance_counts(
    user: Reader, start: datetime, end: datetime, now: datetime | None = None
) -> ComplianceCounts:
    """Obligations due in [start, end), counted by kind and state (the annual report's
    calendar table and the statistics page's drill compliance)."""
    out = ComplianceCounts()
    for row in compliance(user, now):
        o = row.obligation
        if start <= o.due_at < end:
            out.per_kind[o.kind][row.state] += 1
            out.per_org[o.organisation_id].add(row.state)
    return out


@dataclass
class CampaignFigures:
    campaign: Campaign
    agencies: list[int]
    total: Rates
    passed: int
    failed: int


def campaign_figures(user: Reader, start: datetime, end: datetime) -> list[CampaignFigures]:
    """Campaigns that started in [start, end) (not drafts), as the user sees them: each
    with its agencies, human rates over them and the agencies that passed and failed
    (the annual report's campaigns table and the statistics page's)."""
    held = (
        campaigns(user)
        .exclude(state=Campaign.State.DRAFT)
        .filter(starts_at__gte=start, starts_at__lt=end)
        .order_by("starts_at", "pk")
    )
    out = []
    for campaign in held:
        found = results(campaign, user, clickers=False)
        out.append(
            CampaignFigures(
                campaign, [r.organisation_id for r in found.agencies], found.total,
                sum(1 for r in found.agencies if r.passed),
                sum(1 for r in found.agencies if r.passed is False),
            )
        )  # fmt: skip
    return out


@dataclass
class DrillScore:
    notice: DrillNotice
    met: int = 0
    decided: int = 0  # met, met late or overdue; running clocks are not decided yet
    clocks: list[Any] = field(default_factory=list)

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.met / self.decided, 1) if self.decided else None


def notices(user: Reader) -> QuerySet[DrillNotice]:
    return DrillNotice.objects.visible_to(user).select_related("organisation", "incident")


def score(notice: DrillNotice, now: datetime | None = None) -> DrillScore:
    """The drill's score: the statutory clocks of its incident met on time, over those
    already decided (met, met late, overdue). Not yet reported: the notification clock
    runs from the notice, and is decided overdue after its hour."""
    out = DrillScore(notice)
    if notice.incident is None:
        overdue = (now or timezone.now()) - notice.sent_at > timedelta(hours=1)
        out.decided = int(overdue)
        return out
    out.clocks = clock_states(notice.incident, now)
    for clock in out.clocks:
        if clock.state == ClockState.MET:
            out.met += 1
            out.decided += 1
        elif clock.state in (ClockState.MET_LATE, ClockState.OVERDUE):
            out.decided += 1
    return out


# The exercises' figures for the annual report (drills/exercises/selectors.py).
from bulwark.drills.exercises.selectors import exercise_figures as exercise_figures  # noqa: E402
