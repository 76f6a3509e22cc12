"""Demo history for the statistics pages and the annual report (loaded by `bulwark demo`
after every other app's demo, idempotent).

Two full calendar years before this one and this year to date, seasonal (quiet around
the Lunar New Year, busier in spring and autumn) with a mild upward trend, in the
proportions of the CERT's annual report (DOMAIN.md section 6) scaled down so that the demo
loads in seconds:

- incidents reported by the demo agencies and CI operators (~300 a year, over half of
  them intrusions, levels mostly 1-2), with every clock anchor recorded: most clocks met,
  some late; a few drills; a few cases referred to the law-enforcement agency;
- reports from foreign CERTs (~600 events a year: 53 % infected systems, then attacks,
  spam and phishing) routed to the agencies, and the agencies' notifications about them
  (some answered); feed reports about hosts abroad sent on to ~8 foreign CERTs (~2,000
  events a year);
- ~3,000 STIX objects a year shared in the community collection through the intel app's
  own ingest, by category (early warnings the most), in mixed TLP, by the CERT and the
  ISACs; agencies sighted a few of their values;
- ~300 notice advisories a year by category, sent to their target agencies, most
  acknowledged, some with the action taken.

Rows are written in bulk (each model's required fields and invariants set as its service
would); every part carries a marker (`MARKER`) and is skipped when its marker is present,
so loading twice adds nothing. The numbers are deterministic (seeded).
"""

import calendar
import hashlib
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson
from django.db import connection, transaction
from django.db.models import DateTimeField, ForeignKey, Max, Model
from django.utils import timezone

from bulwark.advisories.models import Advisory, AdvisoryCategory, Target
from bulwark.analytics.models import TextBlock
from bulwark.constituency.models import Membership, NetworkClaim, Organisation, User
from bulwark.core import audit
from bulwark.core.tlp import STIX_MARKING_IDS, TLP
from bulwark.exchange.models import Cadence, Event, EventNotice, NotificationReply, Report
from bulwark.exchange.models import raw_path as report_path
from bulwark.incidents.levels import Answers, propose_level
from bulwark.incidents.models import FinalReport, Incident, LevelChange, Referral
from bulwark.incidents.taxonomy import RSIT

MARKER = "Demo history"
SEED = 20261123
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://bulwark.example/demo-history")
YEARS = 2  # full calendar years before the current one
TREND = 0.08  # growth per year
# Month factors (January first): quiet around the Lunar New Year, busier in spring/autumn.
SEASON = (0.95, 0.75, 1.0, 1.05, 1.1, 1.0, 0.9, 0.95, 1.05, 1.15, 1.1, 0.95)
PER_YEAR = {
    "incidents": 300,
    "foreign_events": 600,
    "shared": 3000,
    "advisories": 300,
    "outbound_events": 2000,
}
COMMUNITY = "Community intelligence (demo)"  # the intel demo's community collection
LEA = "Criminal Investigation Bureau (demo)"
# Used when the constituency demo has fewer foreign CERTs than the report needs.
FOREIGN_CERTS = [
    ("JPCERT/CC", "JP"), ("KrCERT/CC", "KR"), ("CISA", "US"), ("NCSC-UK", "GB"),
    ("CERT-FR", "FR"), ("CERT-Bund", "DE"), ("AusCERT", "AU"), ("SingCERT", "SG"),
]  # fmt: skip

T = TypeVar("T")


def _pick(rng: random.Random, table: Sequence[tuple[T, float]]) -> T:
    return rng.choices([item for item, _w in table], [w for _i, w in table])[0]


@dataclass(frozen=True)
class Month:
    start: datetime
    end: datetime  # exclusive; `now` for the current month
    factor: float  # share of a year's volume, with season, trend and a partial month


def history_months(now: datetime) -> list[Month]:
    """Every month from January, YEARS years back, to now (UTC)."""
    months = []
    first_year = now.year - YEARS
    for year in range(first_year, now.year + 1):
        for month in range(1, 13):
            start = datetime(year, month, 1, tzinfo=UTC)
            if start >= now:
                break
            days = calendar.monthrange(year, month)[1]
            end = min(start + timedelta(days=days), now)
            elapsed = (end - start) / timedelta(days=days)
            trend = (1 + TREND) ** (year - first_year + (month - 1) / 12)
            months.append(Month(start, end, SEASON[month - 1] * trend * elapsed / 12))
    return months


def _count(rng: random.Random, per_year: float, month: Month) -> int:
    return max(0, round(per_year * month.factor * rng.uniform(0.85, 1.15)))


def _moment(rng: random.Random, month: Month) -> datetime:
    """A time in the month, office hours in Taiwan (UTC+8) more likely."""
    span = (month.end - month.start).total_seconds()
    when = month.start + timedelta(seconds=rng.uniform(0, span))
    if rng.random() < 0.7:
        when = when.replace(hour=rng.randint(0, 9), minute=rng.randint(0, 59))  # 08-18 local
    return min(max(when, month.start), month.end - timedelta(minutes=1))


def _preparer(field: Any) -> Callable[[Any], Any]:
    """How one column's Python value becomes a database parameter: text, numbers and ids
    pass as they are (get_db_prep_save on every cell was most of the load time)."""
    if isinstance(field, DateTimeField):
        return lambda value: connection.ops.adapt_datetimefield_value(value)
    if isinstance(field, ForeignKey) or field.get_internal_type() in _PLAIN:
        return lambda value: value
    return lambda value: field.get_db_prep_save(value, connection)


_PLAIN = {
    "CharField", "TextField", "SlugField", "EmailField", "IntegerField", "BigIntegerField",
    "PositiveIntegerField", "PositiveSmallIntegerField", "SmallIntegerField", "BooleanField",
}  # fmt: skip


def _insert(model: type[Model], objects: Sequence[Model]) -> None:
    """INSERT the rows exactly as built (the history's own times in the created/received
    columns, which bulk_create would overwrite with now), one executemany per batch."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    prepare = [(f.attname, _preparer(f)) for f in fields]
    quote = connection.ops.quote_name
    # Names come from the model's own metadata; every value is a parameter.
    columns = ", ".join(quote(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        for start in range(0, len(objects), 1000):
            cursor.executemany(
                sql,
                [
                    [convert(getattr(o, name)) for name, convert in prepare]
                    for o in objects[start : start + 1000]
                ],
            )


def _update(model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """UPDATE columns by primary key (each row: the column values, then the pk)."""
    fields = [f for f in model._meta.concrete_fields if f.name in columns]
    fields.sort(key=lambda f: list(columns).index(f.name))
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE id = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                [f.get_db_prep_save(v, connection) for f, v in zip(fields, row[:-1], strict=True)]
                + [row[-1]]
                for row in rows
            ],
        )


def _stable_uuid(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts))


def _rng(part: int) -> random.Random:
    """Each part its own seeded generator, so a part loaded alone makes the same rows."""
    return random.Random(SEED + part)  # noqa: S311 (demo data, seeded)


def load() -> dict[str, int]:
    """Add the history once; returns what was added (all zeros on a second run)."""
    now = timezone.now().replace(microsecond=0)
    months = history_months(now)
    made: dict[str, int] = {}
    # One transaction: all or nothing, and one commit (SQLite would otherwise commit each
    # row of an executemany).
    with transaction.atomic():
        made["incidents"] = _incidents(_rng(1), months, now)
        made["exchange_events"] = _exchange(_rng(2), months, now)
        made["advisories"] = _advisories(_rng(3), months, now)
        made["shared_items"] = _shared(_rng(4), months)
        made["report_texts"] = _report_texts(now.year - 1)
        if any(made.values()):
            audit.record(
                None,
                "analytics.demo_history_loaded",
                changes=made,
                object_type="analytics.demo",
                object_id=str(now.year),
                object_label=MARKER,
            )
    return made


# --------------------------------------------------------------------------- report texts

# The narrative of last year's annual report, as a CERT would write it in the UI (a draft to
# show the structure; the figures in the report are counted from the data).
REPORT_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "highlights": (
            "The national CERT supports government agencies and critical-infrastructure "
            "operators in preventing, detecting and responding to cyber security incidents.\n\n"
            "- Incident reports from agencies were reviewed by their supervising authorities "
            "and handled against the statutory clocks.\n"
            "- Notice advisories reached every targeted agency; most acknowledged them.\n"
            "- ISAC members shared intelligence both ways under TLP 2.0."
        ),
        "about": (
            "As the national CERT we are the point of contact for the CSIRTs of the "
            "critical-infrastructure sectors at home and for CERTs abroad. We coordinate "
            "information sharing with the sector ISACs, security providers, law enforcement "
            "and other CSIRTs."
        ),
        "operations": (
            "Our duty officers triage reports around the clock, analysts run the cases, and "
            "the monitoring centre matches indicators against agencies' logs. The figures "
            "below are counted from the platform's records."
        ),
        "events": "We ran the national cyber exercise and online courses for agency staff.",
        "international": (
            "We exchanged incident reports with foreign CERTs and took part in regional drills."
        ),
        "future": (
            "Next year we will widen automated report exchange and the monitoring centre's "
            "coverage, and shorten the time from report to review."
        ),
    },
    "zh-hant": {
        "highlights": (
            "國家級資安事件應變中心協助政府機關與關鍵基礎設施提供者預防、偵測及應變資安事件。\n\n"
            "- 機關通報之資安事件由主管機關審核，並依法定時限處理。\n"
            "- 資安通告送達所有目標機關，多數機關已確認收悉。\n"
            "- 資安資訊分享與分析中心成員依 TLP 2.0 雙向分享情資。"
        ),
        "about": (
            "本中心為國內關鍵基礎設施領域 CSIRT 及國外 CERT 之聯繫窗口，"
            "並與各領域 ISAC、資安服務業者、執法機關及其他 CSIRT 協調情資分享。"
        ),
        "operations": (
            "值勤人員全天候分析通報，分析師負責案件處理，監控中心比對機關日誌與入侵指標。"
            "以下數據皆由平台紀錄即時統計。"
        ),
        "events": "本年度辦理國家資安演練及機關人員線上課程。",
        "international": "本中心與國外 CERT 交換資安事件通報，並參與區域演練。",
        "future": "明年將擴大自動化通報交換及監控中心涵蓋範圍，並縮短通報至審核之時間。",
    },
}


def _report_texts(year: int) -> int:
    """Last year's narrative in both languages; a block the CERT already wrote is kept."""
    made = 0
    for language, sections in REPORT_TEXTS.items():
        for section, body in sections.items():
            _block, created = TextBlock.objects.get_or_create(
                year=year, language=language, section=section, defaults={"body": body}
            )
            made += created
    return made


# --------------------------------------------------------------------------- incidents

# (class, type, weight, title phrases): over half intrusions, as in the source report.
INCIDENT_MIX: list[tuple[str, str, float, tuple[str, ...]]] = [
    ("intrusions", "system-compromise", 18, ("Backdoor found on", "Intrusion into")),
    ("intrusions", "application-compromise", 16, ("Web shell on", "Defacement of")),
    ("intrusions", "unprivileged-account-compromise", 14, ("Mailbox compromise in", "Stolen credentials used on")),
    ("intrusions", "privileged-account-compromise", 7, ("Admin account takeover on", "Domain admin compromise in")),
    ("intrusion-attempts", "exploit", 5, ("Exploitation attempt against", "Blocked exploit on")),
    ("intrusion-attempts", "brute-force", 4, ("Password spraying on", "Brute force against")),
    ("malicious-code", "infected-system", 9, ("Ransomware on", "Malware infection on")),
    ("malicious-code", "c2-server", 3, ("Beaconing to C2 from", "Botnet callback from")),
    ("availability", "ddos", 6, ("DDoS on", "Layer 7 flood on")),
    ("availability", "outage", 2, ("Outage of", "Unplanned downtime of")),
    ("information-content-security", "data-leak", 6, ("Data leak from", "Exposed records from")),
    ("fraud", "phishing", 5, ("Phishing against", "Credential phishing aimed at")),
    ("vulnerable", "vulnerable-system", 3, ("Unpatched", "End-of-life software on")),
    ("other", "undetermined", 2, ("Unclear incident on", "Suspicious event on")),
]  # fmt: skip
ASSETS = (
    "the mail gateway", "a file server", "the VPN appliance", "the citizen portal",
    "the HR system", "the public web site", "a domain controller", "the document system",
    "the DNS servers", "a branch office router", "the ERP system", "a database server",
)  # fmt: skip
TLP_MIX = [("amber", 80), ("green", 10), ("amber+strict", 7), ("red", 3)]
# Impact answers -> the level the regulation gives them (propose_level decides).
SEVERITY = [
    (Answers(confidentiality="minor"), 30),
    (Answers(integrity="minor"), 25),
    (Answers(integrity="serious"), 15),
    (Answers(confidentiality="minor", core_system=True), 18),
    (Answers(confidentiality="serious", core_system=True), 7),
    (Answers(integrity="serious", core_system=True, availability="minor", restored_in_time=True), 3),
    (Answers(secret="general_official", confidentiality="serious"), 2),
]  # fmt: skip
FINAL_REPORT = {
    "times": "Noticed in the morning; recovery completed within the statutory time.",
    "scope_and_damage": "One system affected; no personal data left the network.",
    "damage_control": "Host isolated, credentials reset, service restored from backup.",
    "investigation": "Logs examined with the national CERT.",
    "root_cause": "An internet-facing system missed a security update.",
    "prevention": "Patch deadlines for edge devices; MFA on remote access.",
    "follow_up": "Quarterly review by the CISO.",
}


def _hours(
    rng: random.Random, met: tuple[float, float], late: tuple[float, float], p: float
) -> timedelta:
    """A duration in the `met` range with probability p, else in the `late` range."""
    low, high = met if rng.random() < p else late
    return timedelta(hours=rng.uniform(low, high))


def _incidents(rng: random.Random, months: list[Month], now: datetime) -> int:
    if Incident.objects.filter(description__startswith=MARKER).exists():
        return 0
    orgs = list(
        Organisation.objects.filter(
            kind__in=["government_agency", "ci_operator"], is_active=True
        ).order_by("pk")
    )
    if not orgs:
        return 0
    reporters = dict(
        Membership.objects.filter(role="reporter").values_list("organisation_id", "user_id")
    )
    duty = User.objects.get(username="duty")
    reviewer = User.objects.filter(username="reviewer").first()
    # The demo reviewer reviews the agencies under their ministry; the CERT the others.
    reviewer_orgs = set(
        Membership.objects.filter(user=reviewer).values_list("organisation_id", flat=True)
    )
    reviewed_by_authority = {o.pk for o in orgs if o.parent_id in reviewer_orgs}
    weights = [1.0 if o.kind == "ci_operator" else 2.5 for o in orgs]
    mix = [((c, t, phrases), w) for c, t, w, phrases in INCIDENT_MIX]
    rows: list[Incident] = []
    for month in months:
        for _n in range(_count(rng, PER_YEAR["incidents"], month)):
            org = rng.choices(orgs, weights)[0]
            rows.append(_incident(rng, month, now, org, mix, reporters, duty, reviewer,
                                  org.pk in reviewed_by_authority))  # fmt: skip
    _number(rows)
    _insert(Incident, rows)
    made = list(Incident.objects.filter(description__startswith=MARKER).order_by("pk"))
    _insert(
        LevelChange,
        [
            LevelChange(incident=i, level=i.level, at=i.reported_at, by_id=i.reported_by_id)
            for i in made
        ],
    )
    _insert(
        FinalReport,
        [
            FinalReport(
                incident=i,
                submitted_by_id=i.reported_by_id,
                submitted_at=i.final_report_at,
                **FINAL_REPORT,
            )
            for i in made
            if i.final_report_at is not None
        ],
    )
    _refer(rng, made, duty)
    from bulwark.incidents.services import refresh_due

    for incident in made:
        if incident.status != "closed":
            refresh_due(incident)
    return len(made)


def _incident(
    rng: random.Random,
    month: Month,
    now: datetime,
    org: Organisation,
    mix: list[tuple[tuple[str, str, tuple[str, ...]], float]],
    reporters: dict[int, int],
    duty: User,
    reviewer: User | None,
    own_reviewer: bool,
) -> Incident:
    drill = rng.random() < 0.02
    if drill:
        rsit_class, rsit_type = "information-gathering", "social-engineering"
        title = "Social-engineering drill"
        answers = Answers()
    else:
        rsit_class, rsit_type, phrases = _pick(rng, mix)
        title = f"{rng.choice(phrases)} {rng.choice(ASSETS)}"
        answers = _pick(rng, SEVERITY)
        if org.kind == "ci_operator" and answers.core_system and rng.random() < 0.5:
            answers = Answers(**{**answers.__dict__, "critical_infrastructure": True})
    level = propose_level(answers)[0]
    urgent = level >= 3
    aware = _moment(rng, month)
    reported = aware + _hours(rng, (0.05, 0.95), (1.1, 5.0), 0.88)
    reviewed = reported + (
        _hours(rng, (0.2, 1.8), (2.2, 6.0), 0.85)
        if urgent
        else _hours(rng, (0.3, 7.5), (8.5, 30.0), 0.9)
    )
    forwarded = reviewed + _hours(rng, (0.1, 0.9), (1.2, 3.0), 0.9) if urgent else None
    recovered = aware + (
        _hours(rng, (3.0, 34.0), (38.0, 80.0), 0.8)
        if urgent
        else _hours(rng, (4.0, 70.0), (74.0, 140.0), 0.87)
    )
    final = recovered + timedelta(
        days=rng.uniform(5, 29) if rng.random() < 0.88 else rng.uniform(32, 50)
    )
    closed = final + timedelta(days=rng.uniform(1, 10))
    stamps = {"reviewed_at": reviewed, "forwarded_at": forwarded, "recovered_at": recovered,
              "final_report_at": final, "closed_at": closed}  # fmt: skip
    reached = {k: v for k, v in stamps.items() if v is not None and v <= now}
    status = next(
        (s for field, s in (("closed_at", "closed"), ("final_report_at", "final_report"),
                            ("recovered_at", "recovered"), ("reviewed_at", "responding"))
         if field in reached),
        "reported",
    )  # fmt: skip
    reviewed_by = reviewer if own_reviewer and reviewer is not None else duty
    return Incident(
        reference="",
        organisation=org,
        reported_by_id=reporters.get(org.pk, duty.pk),
        title=title,
        description=f"{MARKER}: {title.lower()}.",
        profile="tw",
        status=status,
        level=level,
        proposed_level=level,
        rsit_class=rsit_class,
        rsit_type=rsit_type,
        confidentiality=answers.confidentiality,
        integrity=answers.integrity,
        availability=answers.availability,
        core_system=answers.core_system,
        critical_infrastructure=answers.critical_infrastructure,
        secret=answers.secret,
        restored_in_time=answers.restored_in_time,
        tlp="amber" if drill else _pick(rng, TLP_MIX),
        is_drill=drill,
        aware_at=aware,
        reported_at=reported,
        recorded_at=reported,
        reviewed_at=reached.get("reviewed_at"),
        reviewed_by=reviewed_by if "reviewed_at" in reached else None,
        forwarded_at=reached.get("forwarded_at"),
        recovered_at=reached.get("recovered_at"),
        final_report_at=reached.get("final_report_at"),
        closed_at=reached.get("closed_at"),
    )


def _number(rows: list[Incident]) -> None:
    """INC-<year>-<6 digits> in order of reporting, after the year's existing numbers (the
    incident service continues from the highest)."""
    rows.sort(key=lambda i: i.reported_at)
    next_of: dict[int, int] = {}
    for incident in rows:
        year = incident.reported_at.year
        if year not in next_of:
            last = Incident.objects.filter(reference__startswith=f"INC-{year}-").aggregate(
                m=Max("reference")
            )["m"]
            next_of[year] = int(last.rsplit("-", 1)[1]) + 1 if last else 1
        incident.reference = f"INC-{year}-{next_of[year]:06d}"
        next_of[year] += 1


def _refer(rng: random.Random, incidents: list[Incident], duty: User) -> None:
    """Coordinated cases: some intrusions and leaks referred to law enforcement."""
    lea = (
        Organisation.objects.filter(name=LEA).first()
        or Organisation.objects.filter(kind="lea").order_by("pk").first()
    )
    if lea is None:
        return
    chosen = [
        i for i in incidents
        if not i.is_drill and i.rsit_class in ("intrusions", "information-content-security")
        and i.reviewed_at is not None and rng.random() < 0.08
    ]  # fmt: skip
    referrals = [
        Referral(
            incident=i,
            organisation=lea,
            referred_by=duty,
            referred_at=(i.reviewed_at or i.reported_at) + timedelta(hours=rng.uniform(2, 72)),
            note=f"{MARKER}: referred with the preserved evidence.",
            package_sha256=hashlib.sha256(f"{MARKER}/{i.reference}".encode()).hexdigest(),
        )
        for i in chosen
    ]
    _insert(Referral, referrals)


# --------------------------------------------------------------------------- exchange

# Events in reports from foreign CERTs (DOMAIN.md: 53 % infected systems, then attack,
# spam and phishing), and in feed reports about hosts abroad sent on to foreign CERTs.
FOREIGN_MIX = [
    ("infected-system", 53), ("ddos", 7), ("brute-force", 6), ("exploit", 5),
    ("system-compromise", 3), ("spam", 12), ("phishing", 10), ("c2-server", 4),
]  # fmt: skip
OUTBOUND_MIX = [
    ("vulnerable-system", 30), ("ddos-amplifier", 20), ("infected-system", 25),
    ("scanner", 10), ("brute-force", 8), ("phishing", 7),
]  # fmt: skip
MALWARE = ("mirai", "emotet", "qakbot", "andromeda", "conficker", "sality")
# Share of the events sent abroad per foreign CERT (the first eight by name below).
CERT_SHARES = [25, 20, 15, 10, 10, 8, 7, 5]
CERT_ADDRESSES = {"JP": "192.0.2.", "KR": "198.51.100.", "US": "203.0.113."}
TAXONOMY_OF = {t: c for c, types in RSIT.items() for t in types}


def _foreign_certs() -> list[Organisation]:
    certs = list(Organisation.objects.filter(kind="foreign_cert", is_active=True).order_by("pk"))
    if len(certs) < len(CERT_SHARES):
        from bulwark.constituency import services

        known = {c.name for c in certs}
        for name, country in FOREIGN_CERTS:
            if name not in known and len(certs) < len(CERT_SHARES):
                certs.append(
                    services.create_organisation(
                        None, name=name, short_name=name, kind="foreign_cert", country=country
                    )
                )
    return certs[: len(CERT_SHARES)]


def _exchange(rng: random.Random, months: list[Month], now: datetime) -> int:
    if EventNotice.objects.filter(key__startswith="history/").exists():
        return 0
    certs = _foreign_certs()
    claims = list(
        NetworkClaim.objects.filter(
            kind="cidr", value__contains=".",
            organisation__kind__in=["government_agency", "ci_operator"],
        ).select_related("organisation").order_by("pk")
    )  # fmt: skip
    if not certs or not claims:
        return 0
    inbound = _inbound(rng, months, certs, claims)
    outbound = _outbound(rng, months, certs)
    made = 0
    for batches in (inbound, outbound):
        made += _store_reports(rng, batches, now, {c.pk for c in certs})
    return made


@dataclass
class Planned:
    """One event to store: the report it came in, who it is for, and its IntelMQ fields."""

    report: str  # key of the report
    recipient: Organisation
    via: str
    match: str
    fields: dict[str, Any]


ReportPlan = tuple[str, dict[str, Any], list[Planned]]  # key, report fields, events


def _inbound(
    rng: random.Random, months: list[Month], certs: list[Organisation], claims: list[Any]
) -> list[ReportPlan]:
    """Reports from foreign CERTs about hosts of the demo agencies."""
    plans: list[ReportPlan] = []
    for month in months:
        left = _count(rng, PER_YEAR["foreign_events"], month)
        while left > 0:
            cert = rng.choices(certs, CERT_SHARES)[0]
            size = min(left, rng.choice((1, 1, 2, 3, 4, 6, 10)))
            left -= size
            received = _moment(rng, month)
            key = f"in-{received:%Y%m%d%H%M%S}-{len(plans)}"
            report = {"provider": cert.name, "foreign_ticket": f"{cert.short_name or cert.name}#"
                      f"{received:%Y}-{rng.randint(1000, 99999)}", "received_at": received,
                      "format": "xarf", "report_type": "incident"}  # fmt: skip
            events = []
            for _n in range(size):
                claim = rng.choice(claims)
                ctype = _pick(rng, FOREIGN_MIX)
                events.append(
                    Planned(key, claim.organisation, "cidr", claim.value, _fields(
                        rng, ctype, _host_in(rng, claim.value), "TW", cert.name, received))
                )  # fmt: skip
            plans.append((key, report, events))
    return plans


def _outbound(
    rng: random.Random, months: list[Month], certs: list[Organisation]
) -> list[ReportPlan]:
    """Weekly feed reports whose events are about hosts abroad: sent on to their CERTs."""
    plans: list[ReportPlan] = []
    for month in months:
        total = _count(rng, PER_YEAR["outbound_events"], month)
        weeks = max(1, round((month.end - month.start).days / 7))
        for week in range(weeks):
            received = min(
                month.start + timedelta(days=7 * week + rng.uniform(0, 6.9)),
                month.end - timedelta(minutes=5),
            )
            key = f"out-{received:%Y%m%d%H%M%S}-{len(plans)}"
            report = {"provider": "Shadowserver", "feed_name": "shadowserver-scan-abroad",
                      "received_at": received, "format": "intelmq", "report_type": "scan"}  # fmt: skip
            events = []
            for _n in range(total // weeks + (1 if week < total % weeks else 0)):
                cert = rng.choices(certs, CERT_SHARES)[0]
                prefix = CERT_ADDRESSES.get(cert.country, "203.0.113.")
                address = f"{prefix}{rng.randint(1, 254)}"
                fields = _fields(rng, _pick(rng, OUTBOUND_MIX), address, cert.country,
                                 "Shadowserver", received)  # fmt: skip
                events.append(Planned(key, cert, "country", cert.country, fields))
            plans.append((key, report, events))
    return plans


def _host_in(rng: random.Random, cidr: str) -> str:
    import ipaddress

    network = ipaddress.ip_network(cidr, strict=False)
    return str(network[rng.randint(1, min(network.num_addresses - 2, 1000))])


def _fields(
    rng: random.Random, ctype: str, address: str, country: str, provider: str, at: datetime
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "classification.taxonomy": TAXONOMY_OF[ctype],
        "classification.type": ctype,
        "source.ip": address,
        "source.geolocation.cc": country,
        "feed.provider": provider,
        "time.source": (at - timedelta(hours=rng.uniform(1, 20))).isoformat(),
        "time.observation": at.isoformat(),
    }
    if ctype in ("infected-system", "c2-server"):
        fields["malware.name"] = rng.choice(MALWARE)
    return fields


def _store_reports(
    rng: random.Random, plans: list[ReportPlan], now: datetime, foreign: set[int]
) -> int:
    """Reports (raw text kept), their notifications (one per recipient, type and month,
    sent), and the events attached to them, so the notifier has nothing left to send."""
    if not plans:
        return 0
    reports: dict[str, Report] = {}
    for key, fields, events in plans:
        raw = b"".join(orjson.dumps(e.fields) + b"\n" for e in events)
        sha = hashlib.sha256(f"{MARKER}/{key}".encode() + raw).hexdigest()
        path = report_path(sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            Path(path).write_bytes(raw)
        received = fields.pop("received_at")
        reports[key] = Report(
            sha256=sha, file_name=f"history-{key}.jsonl", source=Report.Source.EMAIL
            if fields.get("foreign_ticket") else Report.Source.PULL, size=len(raw),
            status=Report.Status.DONE, finished_at=received + timedelta(seconds=20),
            counts={"read": len(events), "events": len(events), "routed": len(events)},
            received_at=received, **fields,
        )  # fmt: skip
    _insert(Report, list(reports.values()))
    pks = dict(
        Report.objects.filter(sha256__in=[r.sha256 for r in reports.values()]).values_list(
            "sha256", "pk"
        )
    )
    for report in reports.values():
        report.pk = pks[report.sha256]

    groups: dict[tuple[int, str, str], list[Planned]] = defaultdict(list)
    for _key, _report, events in plans:
        for e in events:
            month = e.fields["time.observation"][:7]
            groups[(e.recipient.pk, e.fields["classification.type"], month)].append(e)
    notifications: dict[tuple[int, str, str], EventNotice] = {}
    for (recipient_id, ctype, month), events in groups.items():
        last = max(reports[e.report].received_at for e in events)
        sent = min(last + timedelta(hours=rng.uniform(0.5, 24)), now - timedelta(minutes=1))
        key = f"history/{recipient_id}/{ctype}/{month}"
        bounced = rng.random() < 0.02
        notifications[(recipient_id, ctype, month)] = EventNotice(
            key=key, ticket=_ticket(key, sent), recipient_id=recipient_id,
            classification_type=ctype, cadence=Cadence.DAILY, language="en",
            address=f"abuse@{_slug(events[0].recipient.name)}.example", event_count=len(events),
            status=EventNotice.Status.BOUNCED if bounced else EventNotice.Status.SENT,
            attempts=1, created_at=last, sent_at=sent,
            message_id=f"<{_ticket(key, sent)}.1@demo.example>",
        )  # fmt: skip
    _insert(EventNotice, list(notifications.values()))
    pks = dict(EventNotice.objects.filter(key__startswith="history/").values_list("key", "pk"))
    for notification in notifications.values():
        notification.pk = pks[notification.key]
    _replies(rng, list(notifications.values()), now, foreign)

    rows = []
    for key, _report, events in plans:
        report = reports[key]
        for record, e in enumerate(events, start=1):
            ctype = e.fields["classification.type"]
            month = e.fields["time.observation"][:7]
            rows.append(
                Event(
                    report=report, record_no=record, event_id=_stable_uuid("event", key, record),
                    dedupe_key=_stable_uuid("dedupe", key, record),
                    taxonomy=e.fields["classification.taxonomy"], classification_type=ctype,
                    identifier=e.fields.get("malware.name", ""), source_ip=e.fields["source.ip"],
                    country=e.fields["source.geolocation.cc"],
                    feed_name=report.feed_name, feed_provider=e.fields["feed.provider"],
                    time_source=datetime.fromisoformat(e.fields["time.source"]),
                    time_observation=report.received_at, recipient=e.recipient,
                    route_via=e.via, route_match=e.match, data=orjson.dumps(e.fields).decode(),
                    from_foreign=bool(report.foreign_ticket),
                    notification=notifications[(e.recipient.pk, ctype, month)],
                )
            )  # fmt: skip
    _insert(Event, rows)
    return len(rows)


def _replies(
    rng: random.Random, notifications: list[EventNotice], now: datetime, foreign: set[int]
) -> None:
    """Agencies answer about two in five notifications (foreign CERTs do not answer in
    the demo); bounces come back at once."""
    replies = []
    for n in notifications:
        assert n.sent_at is not None
        bounced = n.status == EventNotice.Status.BOUNCED
        if not bounced and (n.recipient_id in foreign or rng.random() > 0.4):
            continue
        received = min(n.sent_at + timedelta(hours=rng.uniform(0.1 if bounced else 2, 72)), now)
        replies.append(
            NotificationReply(
                notification=n, message_id=f"<reply-{n.ticket}@demo.example>",
                sender="mailer-daemon@demo.example" if bounced else n.address,
                subject=f"{'Undelivered' if bounced else 'Re'}: [{n.ticket}]",
                body="Mailbox unavailable." if bounced else "The host was cleaned and patched.",
                is_bounce=bounced, received_at=received,
            )
        )  # fmt: skip
    _insert(NotificationReply, replies)


def _ticket(key: str, at: datetime) -> str:
    from bulwark.exchange.notify import make_ticket

    return make_ticket(key, at)


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())[:20] or "org"


# --------------------------------------------------------------------------- intel

# (category code, share, STIX object kinds it is shared as)
SHARED_MIX: list[tuple[str, float, tuple[str, ...]]] = [
    ("early-warning", 45, ("ipv4", "domain", "url")),
    ("vulnerability", 15, ("vulnerability",)),
    ("malware", 12, ("sha256", "malware")),
    ("phishing", 10, ("url", "domain")),
    ("intrusion", 6, ("ipv4", "course-of-action")),
    ("ddos", 4, ("ipv4",)),
    ("spam", 3, ("ipv4", "domain")),
    ("fraud", 3, ("domain", "url")),
    ("other", 2, ("ipv4",)),
]
SHARED_TLP = [(TLP.GREEN, 55), (TLP.AMBER, 25), (TLP.CLEAR, 15), (TLP.AMBER_STRICT, 5)]
SHARERS = ("Financial ISAC (demo)", "Academic ISAC (demo)", "Communications ISAC (demo)",
           "Formosa Managed Security (demo)")  # fmt: skip
PATHS = {
    "ipv4": "ipv4-addr:value", "domain": "domain-name:value", "url": "url:value",
    "sha256": "file:hashes.'SHA-256'",
}  # fmt: skip


def _shared(rng: random.Random, months: list[Month]) -> int:
    """STIX objects through the intel app's own ingest, one submission a month (the
    community's monthly exchange), then each placed at its time of sharing with its
    category and the member that shared it (None: the CERT itself)."""
    from bulwark.intel import services
    from bulwark.intel.models import Category, Collection, StixObject, Submission

    if Submission.objects.filter(raw=MARKER).exists():
        return 0
    collection = Collection.objects.filter(title=COMMUNITY).first()
    categories = dict(Category.objects.values_list("code", "pk"))
    if collection is None or not categories:
        return 0
    sharers = list(Organisation.objects.filter(name__in=SHARERS).values_list("pk", flat=True))
    sources: list[int | None] = [None, *sharers]
    mix = [((code, kinds), share) for code, share, kinds in SHARED_MIX if code in categories]
    stored = 0
    serial = 0
    for month in months:
        objects = []
        placed: dict[str, tuple[datetime, int | None, int]] = {}
        for when in sorted(
            _moment(rng, month) for _i in range(_count(rng, PER_YEAR["shared"], month))
        ):
            code, kinds = _pick(rng, mix)
            serial += 1
            stix = _stix(rng, serial, rng.choice(kinds), code, when)
            objects.append(stix)
            placed[stix["id"]] = (when, rng.choice(sources), categories[code])
        if not objects:
            continue
        shared = services.ingest_objects(None, collection, objects, raw=MARKER, channel="demo")
        rows = [
            (*placed[stix_id], pk)
            for stix_id, pk in StixObject.objects.filter(submission=shared.submission).values_list(
                "stix_id", "pk"
            )
            if stix_id in placed
        ]
        _update(StixObject, ("date_added", "source_org", "category"), rows)
        last = max(when for when, _source, _category in placed.values())
        Submission.objects.filter(pk=shared.submission.pk).update(
            received_at=last, processed_at=last
        )
        stored += len(rows)
    _sightings(rng)
    return stored


def _sightings(rng: random.Random) -> None:
    """Agencies saw a few of the shared values in their logs (some false positives),
    within weeks of the sharing; the values' counters as record_sighting keeps them."""
    from bulwark.intel.models import Provenance, Sighting, Value

    agencies = list(
        Organisation.objects.filter(kind__in=["government_agency", "ci_operator"])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    shared = (
        Provenance.objects.filter(stix_object__submission__raw=MARKER)
        .order_by("value_id")
        .values_list("value_id", "stix_object__date_added")
    )
    now = timezone.now()
    rows: list[Sighting] = []
    counters: dict[int, list[Any]] = {}  # value id -> [sightings, false positives, last]
    for value_id, added in shared:
        if not agencies or rng.random() > 0.05:
            continue
        for _n in range(rng.choice((1, 1, 2, 3))):
            first = added + timedelta(days=rng.uniform(0, 30))
            last = min(first + timedelta(hours=rng.uniform(0, 72)), now)
            if first > now:
                continue
            count, false_positive = rng.randint(1, 40), rng.random() < 0.08
            rows.append(
                Sighting(
                    value_id=value_id, organisation_id=rng.choice(agencies), count=count,
                    first_seen=first, last_seen=last, source="firewall log",
                    false_positive=false_positive, recorded_at=last,
                )
            )  # fmt: skip
            cell = counters.setdefault(value_id, [0, 0, last])
            cell[1 if false_positive else 0] += 1 if false_positive else count
            cell[2] = max(cell[2], last)
    _insert(Sighting, rows)
    values = Value.objects.in_bulk(list(counters))
    _update(
        Value,
        ("sighting_count", "false_positive_count", "last_sighted_at"),
        [
            (
                values[pk].sighting_count + seen,
                values[pk].false_positive_count + wrong,
                max(last, values[pk].last_sighted_at or last),
                pk,
            )
            for pk, (seen, wrong, last) in counters.items()
        ],
    )


def _stix(
    rng: random.Random, serial: int, kind: str, category: str, when: datetime
) -> dict[str, Any]:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    tlp = _pick(rng, SHARED_TLP)
    common = {
        "spec_version": "2.1", "created": stamp, "modified": stamp,
        "object_marking_refs": [STIX_MARKING_IDS[tlp]],
    }  # fmt: skip
    oid = _stable_uuid("stix", serial)
    if kind == "vulnerability":
        cve = f"CVE-{when.year}-{20000 + serial % 30000}"
        return {"type": "vulnerability", "id": f"vulnerability--{oid}", "name": cve,
                "external_references": [{"source_name": "cve", "external_id": cve}], **common}  # fmt: skip
    if kind == "malware":
        return {"type": "malware", "id": f"malware--{oid}", "name": rng.choice(MALWARE).title(),
                "is_family": True, **common}  # fmt: skip
    if kind == "course-of-action":
        return {"type": "course-of-action", "id": f"course-of-action--{oid}",
                "name": "Block the reported addresses at the perimeter", **common}  # fmt: skip
    value = _observable(serial, kind)
    return {
        "type": "indicator", "id": f"indicator--{oid}",
        "name": f"{category.replace('-', ' ').capitalize()}: {value}",
        "indicator_types": ["malicious-activity"], "pattern": f"[{PATHS[kind]} = '{value}']",
        "pattern_type": "stix", "valid_from": stamp, "confidence": rng.choice((50, 70, 85)),
        **common,
    }  # fmt: skip


def _observable(serial: int, kind: str) -> str:
    if kind == "ipv4":
        return f"203.0.{113 if serial % 2 else 112}.{serial % 254 + 1}"
    if kind == "domain":
        return f"h{serial}.history-demo.example"
    if kind == "url":
        return f"http://h{serial}.history-demo.example/login"
    return hashlib.sha256(f"history-sample-{serial}".encode()).hexdigest()


# --------------------------------------------------------------------------- advisories

ADVISORY_MIX: list[tuple[str, float, tuple[str, ...]]] = [
    ("vulnerability-alert", 45, ("Critical flaw in {p} exploited", "Security update for {p}",
                                 "Remote code execution in {p}")),
    ("early-warning", 20, ("Phishing campaign impersonating {o}", "Scanning for exposed {p}")),
    ("malware-alert", 15, ("Ransomware spreading through {p}", "Loader delivered via {p}")),
    ("incident-notice", 10, ("Intrusions through {p} at several agencies",)),
    ("policy-notice", 4, ("Reminder: drill schedule for the half year",)),
    ("security-news", 4, ("Security news of the month",)),
    ("guideline", 2, ("Guideline on hardening {p}",)),
]  # fmt: skip
PRODUCTS = ("Example Edge VPN", "Example Mail Gateway", "Example CMS", "Example Firewall",
            "Example Web Server", "Example File Transfer", "Example Remote Desktop")  # fmt: skip


def _advisories(rng: random.Random, months: list[Month], now: datetime) -> int:
    if Advisory.objects.filter(body__startswith=MARKER).exists():
        return 0
    categories = {c.code: c for c in AdvisoryCategory.objects.all()}
    agencies = list(
        Organisation.objects.filter(
            kind__in=["government_agency", "ci_operator"], is_active=True
        ).order_by("pk")
    )
    if not categories or not agencies:
        return 0
    by_sector: dict[int, list[Organisation]] = defaultdict(list)
    for org in agencies:
        if org.sector_id is not None:
            by_sector[org.sector_id].append(org)
    members = dict(Membership.objects.values_list("organisation_id", "user_id"))
    analyst = User.objects.get(username="analyst")
    duty = User.objects.get(username="duty")
    mix = [((code, titles), w) for code, w, titles in ADVISORY_MIX if code in categories]
    advisories: list[Advisory] = []
    plans: list[tuple[list[Organisation], str, int | None]] = []
    for month in months:
        for _n in range(_count(rng, PER_YEAR["advisories"], month)):
            (code, titles), sent = _pick(rng, mix), _moment(rng, month)
            title = rng.choice(titles).format(p=rng.choice(PRODUCTS), o="the tax agency")
            everyone = code in ("policy-notice", "security-news") or rng.random() < 0.2
            sector = None if everyone else rng.choice(sorted(by_sector))
            targets = agencies if sector is None else by_sector[sector]
            response = ("action" if code == "vulnerability-alert" and rng.random() < 0.6
                        else "none" if code in ("security-news", "guideline") else "acknowledge")  # fmt: skip
            public = code == "vulnerability-alert" and rng.random() < 0.1
            advisories.append(
                Advisory(
                    reference="", title=title, summary=f"{title}.",
                    body=f"{MARKER}. {title}: see the recommended actions.",
                    category=categories[code], severity=rng.choice(("medium", "high", "high", "critical")),
                    tlp="clear" if public else rng.choice(("amber", "amber", "green")),
                    publication="alert" if public else "",
                    recommended_actions="Apply the vendor's update; check the logs for signs of compromise.",
                    response_required=response,
                    response_deadline=sent + timedelta(days=7) if response != "none" else None,
                    target_all=sector is None, status="sent", author=analyst,
                    approved_by=duty, approved_at=sent - timedelta(hours=1), sent_by=duty,
                    sent_at=sent, created_at=sent - timedelta(hours=3),
                    updated_at=sent - timedelta(hours=1),
                )
            )  # fmt: skip
            plans.append((targets, response, sector))
    _number_advisories(advisories)
    _insert(Advisory, advisories)
    pks = dict(
        Advisory.objects.filter(reference__in=[a.reference for a in advisories]).values_list(
            "reference", "pk"
        )
    )
    for a in advisories:
        a.pk = pks[a.reference]
    sector_links = []
    rows = []
    for advisory, (targets, response, sector) in zip(advisories, plans, strict=True):
        if sector is not None:
            sector_links.append(
                Advisory.target_sectors.through(advisory_id=advisory.pk, sector_id=sector)
            )
        reason = "all agencies" if sector is None else "sector"
        rows += [_target(rng, advisory, org, response, reason, members, now) for org in targets]
    Advisory.target_sectors.through.objects.bulk_create(sector_links, batch_size=500)
    _insert(Target, rows)
    return len(advisories)


def _number_advisories(advisories: list[Advisory]) -> None:
    advisories.sort(key=lambda a: a.sent_at or datetime.min.replace(tzinfo=UTC))
    next_of: dict[int, int] = {}
    for a in advisories:
        assert a.sent_at is not None
        year = a.sent_at.year
        if year not in next_of:
            last = Advisory.objects.filter(reference__startswith=f"BWA-{year}-").aggregate(
                m=Max("reference")
            )["m"]
            next_of[year] = int(last.rsplit("-", 1)[1]) + 1 if last else 1
        a.reference = f"BWA-{year}-{next_of[year]:04d}"
        next_of[year] += 1


def _target(
    rng: random.Random, advisory: Advisory, org: Organisation, response: str, reason: str,
    members: dict[int, int], now: datetime,
) -> Target:  # fmt: skip
    assert advisory.sent_at is not None
    sent = advisory.sent_at

    def after(hours: float) -> datetime | None:
        when = sent + timedelta(hours=hours)
        return when if when <= now else None

    read = after(rng.lognormvariate(1.0, 1.0)) if rng.random() < 0.95 else None
    ack = after(rng.lognormvariate(2.3, 0.9)) if read and rng.random() < 0.88 else None
    acted = None
    action = ""
    if ack and response == "action" and rng.random() < 0.75:
        acted = after((ack - sent).total_seconds() / 3600 + rng.uniform(4, 120))
        if acted:
            action = _pick(rng, [("patched", 70), ("mitigated", 20), ("not_affected", 10)])
    if read and ack and read > ack:
        read = ack
    user = members.get(org.pk)
    return Target(
        advisory=advisory, organisation=org, reason=reason, read_at=read,
        acknowledged_at=ack, acknowledged_by_id=user if ack else None, action=action,
        action_note="Updated to the fixed version." if action == "patched" else "",
        acted_at=acted, acted_by_id=user if acted else None,
    )  # fmt: skip
