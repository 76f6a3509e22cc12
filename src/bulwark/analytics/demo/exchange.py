"""Reports from foreign CERTs routed to the agencies (and their notifications, some
answered), and feed reports about hosts abroad sent on to foreign CERTs."""

import hashlib
import ipaddress
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bulwark.analytics.demo.common import (
    FOREIGN_CERTS,
    MARKER,
    PER_YEAR,
    Month,
    count_in,
    insert_rows,
    moment_in,
    pick,
    stable_uuid,
)
from bulwark.constituency import services
from bulwark.constituency.models import NetworkClaim, Organisation
from bulwark.exchange.models import Cadence, Event, EventNotice, NotificationReply, Report
from bulwark.exchange.models import raw_path as report_path
from bulwark.exchange.notify import make_ticket
from bulwark.incidents.taxonomy import RSIT

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
        known = {c.name for c in certs}
        for name, country in FOREIGN_CERTS:
            if name not in known and len(certs) < len(CERT_SHARES):
                certs.append(
                    services.create_organisation(
                        None, name=name, short_name=name, kind="foreign_cert", country=country
                    )
                )
    return certs[: len(CERT_SHARES)]


def load_exchange(rng: random.Random, months: list[Month], now: datetime) -> int:
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
        left = count_in(rng, PER_YEAR["foreign_events"], month)
        while left > 0:
            cert = rng.choices(certs, CERT_SHARES)[0]
            size = min(left, rng.choice((1, 1, 2, 3, 4, 6, 10)))
            left -= size
            received = moment_in(rng, month)
            key = f"in-{received:%Y%m%d%H%M%S}-{len(plans)}"
            report = {"provider": cert.name, "foreign_ticket": f"{cert.short_name or cert.name}#"
                      f"{received:%Y}-{rng.randint(1000, 99999)}", "received_at": received,
                      "format": "xarf", "report_type": "incident"}  # fmt: skip
            events = []
            for _n in range(size):
                claim = rng.choice(claims)
                ctype = pick(rng, FOREIGN_MIX)
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
        total = count_in(rng, PER_YEAR["outbound_events"], month)
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
                fields = _fields(rng, pick(rng, OUTBOUND_MIX), address, cert.country,
                                 "Shadowserver", received)  # fmt: skip
                events.append(Planned(key, cert, "country", cert.country, fields))
            plans.append((key, report, events))
    return plans


def _host_in(rng: random.Random, cidr: str) -> str:

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
    insert_rows(Report, list(reports.values()))
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
    insert_rows(EventNotice, list(notifications.values()))
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
                    report=report, record_no=record, event_id=stable_uuid("event", key, record),
                    dedupe_key=stable_uuid("dedupe", key, record),
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
    insert_rows(Event, rows)
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
    insert_rows(NotificationReply, replies)


def _ticket(key: str, at: datetime) -> str:

    return make_ticket(key, at)


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())[:20] or "org"
