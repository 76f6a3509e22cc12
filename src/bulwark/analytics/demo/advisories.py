"""Notice advisories by category, sent to their target agencies, most acknowledged."""

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db.models import Max

from bulwark.advisories.models import Advisory, AdvisoryCategory, Target
from bulwark.analytics.demo.common import (
    MARKER,
    PER_YEAR,
    Month,
    count_in,
    insert_rows,
    moment_in,
    pick,
)
from bulwark.constituency.models import Membership, Organisation, User

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


def load_advisories(rng: random.Random, months: list[Month], now: datetime) -> int:
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
        for _n in range(count_in(rng, PER_YEAR["advisories"], month)):
            (code, titles), sent = pick(rng, mix), moment_in(rng, month)
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
    insert_rows(Advisory, advisories)
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
    insert_rows(Target, rows)
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
            action = pick(rng, [("patched", 70), ("mitigated", 20), ("not_affected", 10)])
    if read and ack and read > ack:
        read = ack
    user = members.get(org.pk)
    return Target(
        advisory=advisory, organisation=org, reason=reason, read_at=read,
        acknowledged_at=ack, acknowledged_by_id=user if ack else None, action=action,
        action_note="Updated to the fixed version." if action == "patched" else "",
        acted_at=acted, acted_by_id=user if acted else None,
    )  # fmt: skip
