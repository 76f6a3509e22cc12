"""A generated dataset for the statistics tests: a small constituency (the CERT, two
authorities with agencies below them, a CI operator, two foreign CERTs) and seeded random
incidents, foreign-CERT reports, notifications, shared intelligence and advisories over
2024-2025, with every TLP, drills and timestamps near the local new year. The tests
count the expected numbers from these Python lists, independently of the SQL."""

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bulwark.advisories.models import Advisory, AdvisoryCategory, Target
from bulwark.constituency import services as cs
from bulwark.constituency.models import Organisation, Sector, User
from bulwark.constituency.tests.factories import UserFactory
from bulwark.exchange.models import Event, EventNotice, Report
from bulwark.incidents.models import Incident, Referral
from bulwark.incidents.taxonomy import RSIT
from bulwark.intel.models import Category as IntelCategory
from bulwark.intel.models import Collection, StixObject

START = datetime(2023, 12, 31, 12, tzinfo=UTC)  # a little before local 2024 starts
SPAN_DAYS = 2 * 366 + 2
TLPS = ("clear", "green", "amber", "amber+strict", "red")
INTEL_TLP = {"clear": 0, "green": 1, "amber": 2, "amber+strict": 3, "red": 4}  # core.tlp.TLP
EVENT_TYPES = (
    "infected-system",
    "c2-server",
    "ddos",
    "brute-force",
    "scanner",
    "spam",
    "phishing",
    "vulnerable-system",
    "data-leak",
    "weird-new-type",
)


@dataclass
class Dataset:
    cert: Organisation
    authority: Organisation
    agencies: list[Organisation]  # under `authority`
    other_authority: Organisation
    other_agency: Organisation  # under `other_authority`
    operator: Organisation  # a CI operator under `authority`
    foreign: list[Organisation]
    duty: User
    reviewer: User  # reviewer at `authority`
    reporter: User  # reporter at agencies[0]
    other_reporter: User  # reporter at other_agency
    foreign_member: User
    outsider: User  # signed in, no organisation
    users: dict[str, User] = field(default_factory=dict)
    incidents: list[Incident] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    foreign_ticket: dict[int, str] = field(default_factory=dict)  # report id -> ticket
    notifications: list[EventNotice] = field(default_factory=list)
    items: list[StixObject] = field(default_factory=list)
    advisories: list[Advisory] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)


def _user(name: str) -> User:
    user: User = UserFactory(username=name)
    return user


def _member(org: Organisation, name: str, role: str) -> User:
    user = _user(name)
    cs.add_membership(None, user, org, role)
    return user


def OrganisationFactory(**fields: Any) -> Organisation:
    fields.setdefault("country", "TW")
    return Organisation.objects.create(**fields)


def _moment(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))


def build(seed: int = 8, incidents: int = 160, events: int = 220, items: int = 150) -> Dataset:
    rng = random.Random(seed)
    sector = Sector.objects.order_by("pk").first()
    cert = OrganisationFactory(name="National CERT", kind="national_cert")
    authority = OrganisationFactory(name="Ministry A", kind="authority")
    other_authority = OrganisationFactory(name="Ministry B", kind="authority")
    agencies = [
        OrganisationFactory(
            name=f"Agency A{i}", kind="government_agency", parent=authority, sector=sector
        )
        for i in (1, 2)
    ]
    other_agency = OrganisationFactory(
        name="Agency B1", kind="government_agency", parent=other_authority
    )
    operator = OrganisationFactory(name="Power company", kind="ci_operator", parent=authority)
    foreign = [
        OrganisationFactory(name="JPCERT", kind="foreign_cert", country="JP"),
        OrganisationFactory(name="KrCERT", kind="foreign_cert", country="KR"),
    ]
    data = Dataset(
        cert=cert,
        authority=authority,
        agencies=agencies,
        other_authority=other_authority,
        other_agency=other_agency,
        operator=operator,
        foreign=foreign,
        duty=_member(cert, "duty", "duty_officer"),
        reviewer=_member(authority, "reviewer", "reviewer"),
        reporter=_member(agencies[0], "reporter", "reporter"),
        other_reporter=_member(other_agency, "other-reporter", "reporter"),
        foreign_member=_member(foreign[0], "jp-member", "isac_member"),
        outsider=_user("outsider"),
    )
    data.users = {
        "duty": data.duty,
        "reviewer": data.reviewer,
        "reporter": data.reporter,
        "other_reporter": data.other_reporter,
        "foreign_member": data.foreign_member,
        "outsider": data.outsider,
    }
    reporters = {
        agencies[0].pk: data.reporter,
        other_agency.pk: data.other_reporter,
    }
    _incidents(data, rng, incidents, reporters)
    _exchange(data, rng, events)
    _intel(data, rng, items)
    _advisories(data, rng)
    return data


def _incidents(data: Dataset, rng: random.Random, n: int, reporters: dict[int, User]) -> None:
    orgs = [*data.agencies, data.other_agency, data.operator, data.authority]
    classes = [c for c in RSIT if c != "test"]
    rows = []
    for i in range(n):
        org = rng.choice(orgs)
        rsit_class = "intrusions" if rng.random() < 0.4 else rng.choice(classes)
        level = rng.choice((1, 1, 2, 2, 3, 4))
        aware = _moment(rng)
        reported = aware + timedelta(minutes=rng.choice((10, 30, 50, 59, 75, 200)))
        reviewed = (
            reported + timedelta(hours=rng.choice((1, 1.5, 3, 9))) if rng.random() < 0.8 else None
        )
        recovered = (
            aware + timedelta(hours=rng.choice((20, 35, 40, 70, 80)))
            if rng.random() < 0.7
            else None
        )
        final = (
            recovered + timedelta(days=rng.choice((10, 25, 40)))
            if recovered and rng.random() < 0.6
            else None
        )
        rows.append(
            Incident(
                reference=f"T-{i:05d}",
                organisation=org,
                reported_by=reporters.get(org.pk, data.duty),
                title=f"case {i}",
                description="generated",
                profile="tw",
                status="reported",
                level=level,
                proposed_level=level,
                rsit_class=rsit_class,
                rsit_type=RSIT[rsit_class][0],
                tlp=rng.choice(TLPS),
                is_drill=rng.random() < 0.1,
                aware_at=aware,
                reported_at=reported,
                reviewed_at=reviewed,
                recovered_at=recovered,
                final_report_at=final,
            )
        )
    data.incidents = Incident.objects.bulk_create(rows)
    for incident in rng.sample(data.incidents, 12):  # coordinated cases
        Referral.objects.create(
            incident=incident,
            organisation=data.foreign[0],
            referred_by=data.duty,
            package_sha256="0" * 64,
        )


def _exchange(data: Dataset, rng: random.Random, n: int) -> None:
    reports = []
    for i in range(12):
        ticket = f"JP-{i}" if i % 3 else ""  # two in three come from a foreign CERT
        report = Report.objects.create(
            sha256=f"{i:064d}", source="email", size=100, foreign_ticket=ticket, provider="JPCERT"
        )
        data.foreign_ticket[report.pk] = ticket
        reports.append(report)
    recipients = [*data.agencies, data.other_agency, data.operator, None]
    rows = []
    for i in range(n):
        report = rng.choice(reports)
        rows.append(
            Event(
                report=report,
                from_foreign=bool(report.foreign_ticket),
                record_no=i,
                event_id=uuid.uuid4(),
                dedupe_key=uuid.uuid4(),
                taxonomy="x",
                classification_type=rng.choice(EVENT_TYPES),
                time_observation=_moment(rng),
                recipient=rng.choice(recipients),
                route_via="cidr" if i % 5 else "",
                data="{}",
            )
        )
    data.events = Event.objects.bulk_create(rows)
    notices = []
    for i in range(60):
        to = rng.choice([*data.foreign, data.agencies[0], data.other_agency])
        sent = _moment(rng) if rng.random() < 0.9 else None
        notices.append(
            EventNotice(
                key=f"n{i}",
                ticket=f"T{i}",
                recipient=to,
                classification_type="infected-system",
                cadence="daily",
                language="en",
                event_count=rng.randrange(1, 400),
                status="sent" if sent else "queued",
                sent_at=sent,
            )
        )
    data.notifications = EventNotice.objects.bulk_create(notices)


def _intel(data: Dataset, rng: random.Random, n: int) -> None:
    cats = [
        IntelCategory.objects.get_or_create(code=code, defaults={"name": name})[0]
        for code, name in (("early-warning", "Early warning"), ("malware", "Malware"))
    ]
    community = Collection.objects.create(title="Community", requires_review=False)
    own = Collection.objects.create(
        title="Ministry A only", organisation=data.authority, requires_review=False
    )
    rows = []
    for i in range(n):
        tlp = rng.choice(TLPS)
        added = _moment(rng)
        rows.append(
            StixObject(
                collection=rng.choice((community, community, own)),
                stix_id=f"indicator--{uuid.UUID(int=i)}",
                type=rng.choice(("indicator", "report", "identity")),
                version=added,
                date_added=added,
                is_latest=rng.random() < 0.9,
                tlp=INTEL_TLP[tlp],
                source_org=rng.choice((data.authority, data.other_agency, data.cert)),
                status=rng.choice(("published", "published", "published", "pending")),
                category=rng.choice((*cats, None)),
                raw="{}",
            )
        )
    data.items = StixObject.objects.bulk_create(rows)


def _advisories(data: Dataset, rng: random.Random) -> None:
    cats = [
        AdvisoryCategory.objects.get_or_create(code=code, defaults={"name": name})[0]
        for code, name in (("vulnerability", "Vulnerability alert"), ("warning", "Early warning"))
    ]
    for i in range(40):
        sent = _moment(rng) if i % 8 else None
        advisory = Advisory.objects.create(
            reference=f"BWA-2025-{i:04d}",
            title=f"advisory {i}",
            summary="s",
            body="b",
            category=rng.choice(cats),
            severity="high",
            tlp=rng.choice(("clear", "green", "amber", "red")),
            author=data.duty,
            status="sent" if sent else "draft",
            sent_at=sent,
        )
        data.advisories.append(advisory)
        if sent is None:
            continue
        for org in rng.sample([*data.agencies, data.other_agency, data.operator], 2):
            acknowledged = (
                sent + timedelta(hours=rng.choice((2, 10, 30))) if rng.random() < 0.7 else None
            )
            data.targets.append(
                Target.objects.create(
                    advisory=advisory,
                    organisation=org,
                    acknowledged_at=acknowledged,
                    action=rng.choice(("", "", "patched")) if acknowledged else "",
                )
            )


def local_year(moment: Any) -> int:
    from bulwark.analytics.periods import local_zone

    return int(moment.astimezone(local_zone()).year)
