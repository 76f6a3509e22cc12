"""What a notification says: events gathered per recipient and classification type
(`exchange.services.notices` queues, sends and retries them) become one e-mail (summary
in the recipient's language, a CSV attachment and an X-ARF part) under a ticket id, or,
for a foreign CERT that asked for it, a STIX 2.1 bundle POSTed to its TAXII collection
(exchange/taxii_client.py). The e-mail's Message-ID is derived from the ticket, so a
resend after a crash between "sent" and "recorded" is recognisably the same message.
"""

import hashlib
import re
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bulwark.constituency.models import Contact, Organisation
from bulwark.core import csvexport
from bulwark.exchange.models import (
    Cadence,
    Event,
    EventNotice,
    RecipientSettings,
)

MAX_EVENTS_PER_NOTIFICATION = 10_000
MAX_ATTEMPTS = 5
TICKET = re.compile(r"\b(EX\d{8}-[0-9A-F]{10})\b")
CSV_FIELDS = [
    "time.source", "source.ip", "source.port", "source.asn", "source.fqdn", "source.url",
    "destination.ip", "destination.port", "classification.taxonomy", "classification.type",
    "classification.identifier", "malware.name", "protocol.transport",
    "protocol.application", "feed.name", "feed.provider", "extra.foreign_ticket", "event_id",
]  # fmt: skip
CONTACT_ORDER = [
    Contact.Purpose.ABUSE,
    Contact.Purpose.SECURITY,
    Contact.Purpose.EMERGENCY,
    Contact.Purpose.GENERAL,
]


def period_key(cadence: str, now: datetime, last_event_id: int) -> str:
    if cadence == Cadence.HOURLY:
        return now.strftime("%Y-%m-%dT%H")
    if cadence == Cadence.DAILY:
        return now.strftime("%Y-%m-%d")
    return f"upto-{last_event_id}"  # immediate: every run with new events is a new period


def make_ticket(key: str, now: datetime) -> str:
    digest = hashlib.blake2b(key.encode(), digest_size=5).hexdigest().upper()
    return f"EX{now:%Y%m%d}-{digest}"


def address_of(org: Organisation, prefs: RecipientSettings | None) -> str:
    if prefs is not None and prefs.email:
        return prefs.email
    contacts = {c.purpose: c.email for c in org.contacts.all() if c.email}
    return next((contacts[p] for p in CONTACT_ORDER if p in contacts), "")


def compose(notification: EventNotice) -> EmailMessage:
    events = list(notification.events.order_by("id"))
    org = notification.recipient
    with translation.override(notification.language):
        subject = _("[%(cert)s %(ticket)s] %(count)d %(type)s events in your network") % {
            "cert": settings.CERT_NAME,
            "ticket": notification.ticket,
            "count": len(events),
            "type": notification.classification_type,
        }
        body = summary_text(notification, org, events)
    message = EmailMessage(
        subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        [notification.address],
        headers={
            "Message-ID": f"<{notification.ticket}.{notification.attempts}@{_domain()}>",
            "X-Bulwark-Ticket": notification.ticket,
            "X-XARF": "PLAIN",
            "Auto-Submitted": "auto-generated",
            "Content-Language": notification.language,
        },
    )
    message.attach(f"{notification.ticket}.csv", _csv(events), "text/csv")
    message.attach("xarf.json", _xarf(notification, events), "application/json")
    return message


def _domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"


def summary_text(
    notification: EventNotice,
    org: Organisation,
    events: list[Event],
    attachments: bool = True,
) -> str:
    identifiers = Counter(e.identifier for e in events)
    addresses = Counter(e.source_ip or e.source_fqdn for e in events)
    times = sorted(e.time_source for e in events if e.time_source)
    counts = {"count": len(events), "type": notification.classification_type}
    lines = [
        _("Dear colleagues at %(org)s,") % {"org": org.name},
        "",
        _(
            "we received reports of %(count)d %(type)s events concerning networks you are "
            "responsible for. The attached CSV lists every event; xarf.json holds the same "
            "as X-ARF reports."
        )
        % counts
        if attachments
        else _(
            "we received reports of %(count)d %(type)s events concerning networks you are "
            "responsible for. This report refers to one observed-data object per event."
        )
        % counts,
        "",
        _("Ticket: %(ticket)s (please keep it in the subject when you reply)")
        % {"ticket": notification.ticket},
    ]
    if times:
        lines.append(
            _("Observed between %(first)s and %(last)s (UTC).")
            % {"first": f"{times[0]:%Y-%m-%d %H:%M}", "last": f"{times[-1]:%Y-%m-%d %H:%M}"}
        )
    lines += ["", _("By kind:")]
    lines += [f"  {name or '-'}: {n}" for name, n in identifiers.most_common(20)]
    lines += ["", _("Most reported addresses:")]
    lines += [f"  {value}: {n}" for value, n in addresses.most_common(10)]
    lines += ["", _("Regards,"), settings.CERT_NAME]
    return "\n".join(lines) + "\n"


def _csv(events: list[Event]) -> str:
    """IntelMQ's field names, which the recipients' tools read (docs/exchange.md), so
    written for machines; every cell defused like every CSV (core.csvexport)."""

    def rows() -> Any:
        for event in events:
            fields = event.fields
            fields["event_id"] = event.event_id.hex
            yield [fields.get(name, "") for name in CSV_FIELDS]

    return csvexport.text(CSV_FIELDS, rows(), for_machines=True)


# RSIT type -> X-ARF v4 (category, type); the type's required fields are filled from the
# event where it has them (`_xarf_specific`), else the report falls back to
# reputation/threat_intelligence, which needs only the threat type.
XARF_TYPES = {
    "brute-force": ("connection", "login_attack"),
    "scanner": ("connection", "port_scan"),
    "ddos": ("connection", "ddos"),
    "dos": ("connection", "ddos"),
    "infected-system": ("connection", "infected_host"),
    "phishing": ("content", "phishing"),
    "malware-distribution": ("content", "malware"),
    "spam": ("messaging", "spam"),
    "copyright": ("copyright", "copyright"),
    "ddos-amplifier": ("vulnerability", "open_service"),
    "potentially-unwanted-accessible": ("vulnerability", "open_service"),
    "vulnerable-system": ("vulnerability", "open_service"),
    "system-compromise": ("infrastructure", "compromised_server"),
}
XARF_FALLBACK = ("reputation", "threat_intelligence")


def _xarf(notification: EventNotice, events: list[Event]) -> str:
    """One X-ARF v4 report per event (xarf/xarf-spec, checked against its JSON schema in
    the tests): the specific type where the event carries its required fields, else
    reputation/threat_intelligence."""
    from bulwark.exchange.engine.formats.xarf import validation_error

    party = {
        "org": str(settings.CERT_NAME)[:200],
        "contact": settings.DEFAULT_FROM_EMAIL,
        "domain": settings.CSIRT_FQDN,
    }
    category, kind = XARF_TYPES.get(notification.classification_type, XARF_FALLBACK)
    reports = []
    for event in events:
        fields = event.fields
        source = fields.get("source.ip") or fields.get("source.fqdn") or fields.get("source.url")
        report: dict[str, Any] = {
            "xarf_version": "4.0.0",
            # the event id as a version-4 UUID: the same event gives the same report id
            "report_id": str(uuid.UUID(bytes=event.event_id.bytes, version=4)),
            "timestamp": _rfc3339(fields.get("time.source") or fields.get("time.observation")),
            "reporter": party,
            "sender": party,
            "source_identifier": str(source or ""),
            "category": category,
            "type": kind,
            "description": f"{notification.classification_type}: "
            f"{fields.get('classification.identifier') or '-'} (ticket {notification.ticket})",
            "tags": [
                f"ticket:{notification.ticket.lower()}",
                f"rsit:{notification.classification_type}",
            ],
        }
        if isinstance(fields.get("source.port"), int):
            report["source_port"] = fields["source.port"]
        specific = {**report, **_xarf_specific(category, kind, fields, report)}
        if (category, kind) != XARF_FALLBACK and validation_error(specific) is None:
            reports.append(specific)
            continue
        report["category"], report["type"] = XARF_FALLBACK
        report["threat_type"] = notification.classification_type
        reports.append(report)
    return orjson.dumps(reports, option=orjson.OPT_INDENT_2).decode()


def _xarf_specific(
    category: str, kind: str, fields: dict[str, Any], report: dict[str, Any]
) -> dict[str, Any]:
    """The fields an X-ARF v4 type requires, from what the event has (nothing invented:
    a missing one makes the report fall back)."""
    out: dict[str, Any] = {}
    if category == "connection":
        out["first_seen"] = report["timestamp"]
        if fields.get("protocol.transport"):
            out["protocol"] = fields["protocol.transport"]
        if fields.get("destination.ip"):
            out["destination_ip"] = fields["destination.ip"]
        if isinstance(fields.get("destination.port"), int):
            out["destination_port"] = fields["destination.port"]
        if kind == "infected_host" and fields.get("malware.name"):
            out["bot_type"] = fields["malware.name"]
    elif category in ("content", "copyright"):
        if fields.get("source.url"):
            out["infringing_url" if category == "copyright" else "url"] = fields["source.url"]
    elif category == "vulnerability":
        service = fields.get("protocol.application") or fields.get("classification.identifier")
        if service:
            out["service"] = service
        if isinstance(fields.get("source.port"), int):
            out["service_port"] = fields["source.port"]
    return out


def _rfc3339(value: Any) -> str:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            moment = timezone.now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
