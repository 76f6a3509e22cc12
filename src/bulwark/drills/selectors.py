"""Reads shared by the pages, the API and the exports, each narrowing a `visible_to`
queryset: campaign results per agency, sector and authority (human events only in the
rates), repeat clickers, time to first report, comparison with the previous campaign,
improvement plans and the compliance calendar."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Min, QuerySet
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
    """Distinct recipients per organisation and outcome, human events only."""
    rows: dict[int, Rates] = defaultdict(Rates)
    recipients = Recipient.objects.filter(campaign=campaign)
    events = DrillEvent.objects.filter(campaign=campaign)
    if org_ids is not None:
        recipients = recipients.filter(organisation_id__in=org_ids)
        events = events.filter(recipient__organisation_id__in=org_ids)
    for org_id, n in (
        recipients.filter(sent_at__isnull=False, bounced=False)
        .values_list("organisation_id").annotate(n=Count("pk")).order_by()
    ):  # fmt: skip
        rows[org_id].sent = n
    human = events.filter(automated="")
    for org_id, n in (
        human.filter(kind__in=OPEN_KINDS).values_list("recipient__organisation_id")
        .annotate(n=Count("recipient_id", distinct=True)).order_by()
    ):  # fmt: skip
        rows[org_id].opened = n
    names = {EventKind.CLICKED: "clicked", EventKind.SUBMITTED: "submitted",
             EventKind.REPORTED: "reported"}  # fmt: skip
    for org_id, kind, n in (
        human.filter(kind__in=list(names)).values_list("recipient__organisation_id", "kind")
        .annotate(n=Count("recipient_id", distinct=True)).order_by()
    ):  # fmt: skip
        setattr(rows[org_id], names[kind], n)
    for org_id, n in (
        events.exclude(automated="").values_list("recipient__organisation_id")
        .annotate(n=Count("pk")).order_by()
    ):  # fmt: skip
        rows[org_id].automated = n
    # Reported before clicking: the first report precedes any human click (or none).
    firsts: dict[int, dict[str, datetime]] = defaultdict(dict)
    for rid, kind, at in (
        human.filter(kind__in=[EventKind.REPORTED, EventKind.CLICKED])
        .values_list("recipient_id", "kind").annotate(at=Min("at")).order_by()
    ):  # fmt: skip
        firsts[rid][kind] = at
    reporters = {rid: k for rid, k in firsts.items() if EventKind.REPORTED in k}
    if reporters:
        orgs = dict(Recipient.objects.filter(pk__in=reporters).values_list("pk", "organisation_id"))
        for rid, k in reporters.items():
            click = k.get(EventKind.CLICKED)
            if click is None or k[EventKind.REPORTED] < click:
                rows[orgs[rid]].reported_first += 1
    return rows


def _first_reports(campaign: Campaign) -> dict[int, timedelta]:
    """Per organisation: from its first delivered message to its first report."""
    sent = dict(
        Recipient.objects.filter(campaign=campaign, sent_at__isnull=False)
        .values_list("organisation_id")
        .annotate(first=Min("sent_at"))
        .order_by()
    )
    reported = dict(
        DrillEvent.objects.filter(campaign=campaign, kind=EventKind.REPORTED, automated="")
        .values_list("recipient__organisation_id")
        .annotate(first=Min("at"))
        .order_by()
    )
    return {o: reported[o] - sent[o] for o in reported if o in sent}


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
    counts = _counts(campaign, set(orgs))
    previous = _counts(campaign.previous, set(orgs)) if campaign.previous is not None else {}
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
    here = set(
        DrillEvent.objects.filter(
            campaign=campaign,
            kind=EventKind.CLICKED,
            automated="",
            recipient__organisation_id__in=org_ids,
        ).values_list("recipient__email", flat=True)
    )
    if not here:
        return []
    rows = (
        DrillEvent.objects.filter(
            kind=EventKind.CLICKED,
            automated="",
            recipient__email__in=here,
            recipient__organisation_id__in=org_ids,
            campaign__starts_at__lte=campaign.starts_at,
        )
        .values_list("recipient__email", "recipient__organisation__name")
        .annotate(n=Count("campaign_id", distinct=True))
        .order_by("-n", "recipient__email")
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
