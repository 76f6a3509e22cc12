"""Incidents of the demo history: reported by agencies and CI operators, every clock
anchor recorded, some late, a few drills, a few referred to law enforcement."""

import hashlib
import random
from datetime import datetime, timedelta

from django.db.models import Max

from bulwark.analytics.demo.common import (
    LEA,
    MARKER,
    PER_YEAR,
    Month,
    count_in,
    insert_rows,
    moment_in,
    pick,
)
from bulwark.constituency.models import Membership, Organisation, User
from bulwark.incidents.levels import Answers, propose_level
from bulwark.incidents.models import FinalReport, Incident, LevelChange, Referral
from bulwark.incidents.services import refresh_due

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


def load_incidents(rng: random.Random, months: list[Month], now: datetime) -> int:
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
        for _n in range(count_in(rng, PER_YEAR["incidents"], month)):
            org = rng.choices(orgs, weights)[0]
            rows.append(_incident(rng, month, now, org, mix, reporters, duty, reviewer,
                                  org.pk in reviewed_by_authority))  # fmt: skip
    _number(rows)
    insert_rows(Incident, rows)
    made = list(Incident.objects.filter(description__startswith=MARKER).order_by("pk"))
    insert_rows(
        LevelChange,
        [
            LevelChange(incident=i, level=i.level, at=i.reported_at, by_id=i.reported_by_id)
            for i in made
        ],
    )
    insert_rows(
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
        rsit_class, rsit_type, phrases = pick(rng, mix)
        title = f"{rng.choice(phrases)} {rng.choice(ASSETS)}"
        answers = pick(rng, SEVERITY)
        if org.kind == "ci_operator" and answers.core_system and rng.random() < 0.5:
            answers = Answers(**{**answers.__dict__, "critical_infrastructure": True})
    level = propose_level(answers)[0]
    urgent = level >= 3
    aware = moment_in(rng, month)
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
        tlp="amber" if drill else pick(rng, TLP_MIX),
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
    insert_rows(Referral, referrals)
