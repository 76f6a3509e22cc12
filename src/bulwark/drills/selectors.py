"""Reads shared by the pages, the API and the exports, each narrowing a `visible_to`
queryset: campaign results per agency, sector and authority (human events only in the
rates), repeat clickers, time to first report, comparison with the previous campaign,
improvement plans and the compliance calendar."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Min, Q, QuerySet, Sum
from django.utils import timezone

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation
from bulwark.core.permissions import Reader
from bulwark.drills import calendar
from bulwark.drills.models import (
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


def _counts(campaign: Campaign, org_ids: set[int] | None) -> dict[int, Rates]:
    """Distinct people per organisation and outcome, human events only: one GROUP BY over
    the campaign's recipients, whose outcome columns the tracking services keep (the
    first human open, click, submit and report, and the count of automated requests), so
    the cost follows the number of people, not of events."""
    rows: dict[int, Rates] = defaultdict(Rates)
    recipients = Recipient.objects.filter(campaign=campaign)
    if org_ids is not None:
        recipients = recipients.filter(organisation_id__in=org_ids)
    reported_first = Q(reported_at__isnull=False) & (
        Q(clicked_at__isnull=True) | Q(reported_at__lt=F("clicked_at"))
    )
    for org_id, *figures in (
        recipients.values_list("organisation_id")
        .annotate(
            sent=Count("pk", filter=Q(sent_at__isnull=False, bounced=False)),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            submitted=Count("pk", filter=Q(submitted_at__isnull=False)),
            reported=Count("pk", filter=Q(reported_at__isnull=False)),
            # Reported before clicking: the first report precedes any human click (or none).
            reported_first=Count("pk", filter=reported_first),
            automated=Sum("automated_events"),
        )
        .order_by()
    ):  # fmt: skip
        rows[org_id] = Rates(*(n or 0 for n in figures))
    return rows


def _first_reports(campaign: Campaign) -> dict[int, timedelta]:
    """Per organisation: from its first delivered message to its first report."""
    firsts = (
        Recipient.objects.filter(campaign=campaign)
        .values_list("organisation_id")
        .annotate(sent=Min("sent_at"), reported=Min("reported_at"))
        .order_by()
    )
    return {o: reported - sent for o, sent, reported in firsts if sent and reported}


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
    counts = _counts(campaign, limit)
    previous = _counts(campaign.previous, limit) if campaign.previous is not None else {}
    first = _first_reports(campaign)
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


@dataclass
class Results:
    campaign: Campaign
    agencies: list[AgencyRow]
    total: Rates = field(default_factory=Rates)
    by_sector: dict[str, Rates] = field(default_factory=dict)
    by_authority: dict[str, Rates] = field(default_factory=dict)
    repeat_clickers: list[tuple[str, str, int]] = field(default_factory=list)


def results(campaign: Campaign, user: Reader) -> Results:
    rows = agency_results(campaign, user)
    out = Results(campaign, rows)
    for row in rows:
        out.total.add(row)
        out.by_sector.setdefault(row.sector or "—", Rates()).add(row)
        out.by_authority.setdefault(row.authority or "—", Rates()).add(row)
    out.repeat_clickers = repeat_clickers(campaign, {r.organisation_id for r in rows})
    return out


def repeat_clickers(campaign: Campaign, org_ids: set[int]) -> list[tuple[str, str, int]]:
    """(e-mail, organisation, campaigns clicked) for people of these organisations who
    clicked in this campaign and in at least one earlier one (human clicks only)."""
    here = Recipient.objects.filter(
        campaign=campaign, clicked_at__isnull=False, organisation_id__in=org_ids
    ).values("email")
    rows = (
        Recipient.objects.filter(
            clicked_at__isnull=False,
            email__in=here,
            organisation_id__in=org_ids,
            campaign__starts_at__lte=campaign.starts_at,
        )
        .values_list("email", "organisation__name")
        .annotate(n=Count("campaign_id", distinct=True))
        .order_by("-n", "email")
    )
    return [(e, o, n) for e, o, n in rows if n > 1]


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
