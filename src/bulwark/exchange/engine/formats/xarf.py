"""X-ARF 0.2 JSON reports, alone or inside an e-mail (RFC 5965 ARF or X-ARF mail).

An e-mail may carry X-ARF JSON parts (application/json), an ARF machine-readable part
(message/feedback-report), or both; each X-ARF part and each feedback report is one
record. The sender's ticket number is read from the X-ARF report or the Subject line.
"""

import email
import email.policy
import re
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import orjson

from bulwark.exchange.engine.formats.base import (
    Context,
    Item,
    Readable,
    ReportError,
    clip,
    read_document,
)

# X-ARF ReportType -> RSIT type (classification.type)
REPORT_TYPES = {
    "loginattack": "brute-force",
    "portscan": "scanner",
    "phishing": "phishing",
    "malware": "malware-distribution",
    "spam": "spam",
    "ddos": "ddos",
    "dos": "dos",
    "bot": "infected-system",
    "botnet": "infected-system",
    "infectedsystem": "infected-system",
    "c2": "c2-server",
    "copyright": "copyright",
    "vulnerable": "vulnerable-system",
    "openservice": "potentially-unwanted-accessible",
    "hacking": "system-compromise",
    "compromised": "system-compromise",
    "exploit": "exploit",
    "ids": "ids-alert",
    "fraud": "masquerade",
}
# RFC 5965 Feedback-Type -> RSIT type
FEEDBACK_TYPES = {
    "abuse": "spam",
    "fraud": "phishing",
    "virus": "malware-distribution",
    "other": "undetermined",
    "not-spam": "other",
}
TICKET = re.compile(
    r"\[([A-Za-z][\w./-]{0,30}#\s?[\w-]{1,40})\]|\b(?:ticket|ref)[:#\s]+([\w-]{3,40})", re.I
)


def looks_like_xarf(head: bytes) -> bool:
    start = head.lstrip()[:2000]
    return (start.startswith(b"{") and b'"ReporterInfo"' in start) or b'"Report"' in start[:400]


def looks_like_mail(head: bytes) -> bool:
    first = head.lstrip()[:4000].lower()
    return first.startswith((b"from ", b"return-path:", b"received:", b"message-id:")) or (
        (b"\nsubject:" in first and b"\nfrom:" in first)
        or first.startswith((b"subject:", b"from:"))
    )


def parse_xarf(stream: Readable, ctx: Context) -> Iterator[Item]:
    data = read_document(stream, "X-ARF report")
    yield from _xarf_records(data, ctx, 1)


def _xarf_records(data: bytes, ctx: Context, number: int) -> Iterator[Item]:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield Item(number, clip(data.decode("utf-8", "backslashreplace")), error=f"not JSON: {exc}")
        return
    reports = document if isinstance(document, list) else [document]
    for offset, report in enumerate(reports):
        raw = clip(orjson.dumps(report).decode())
        try:
            fields = xarf_fields(report, ctx)
        except ValueError as exc:
            yield Item(number + offset, raw, error=str(exc))
            continue
        yield Item(number + offset, raw, fields)


def xarf_fields(document: Any, ctx: Context) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise ValueError("an X-ARF report is a JSON object")
    version = str(document.get("Version", ""))
    if not version.startswith("0.2"):
        raise ValueError(f"X-ARF version {version[:10]!r} is not read (only 0.2, JSON)")
    reporter = document.get("ReporterInfo") or {}
    report = document.get("Report")
    if not isinstance(report, dict) or not isinstance(reporter, dict):
        raise ValueError("an X-ARF 0.2 report needs the objects ReporterInfo and Report")
    report_type = str(report.get("ReportType", "")).strip()
    if not report_type:
        raise ValueError("Report.ReportType is missing")
    source = report.get("Source")
    if not source:
        raise ValueError("Report.Source is missing")
    source_type = str(report.get("SourceType", "ip-address")).lower()
    fields: dict[str, Any] = {
        "classification.type": REPORT_TYPES.get(report_type.lower(), "undetermined"),
        "classification.identifier": report_type.lower(),
        "time.source": report.get("Date"),
        "source.port": report.get("SourcePort"),
        "destination.ip": report.get("DestinationIp"),
        "destination.port": report.get("DestinationPort"),
        "protocol.application": report.get("Service"),
        "feed.provider": reporter.get("ReporterOrg") or ctx.provider,
        "feed.name": ctx.feed or "xarf",
        "extra.report_class": report.get("ReportClass"),
        "extra.reporter_email": reporter.get("ReporterContactEmail")
        or reporter.get("ReporterOrgEmail"),
        "extra.count": report.get("Count"),
    }
    if source_type in ("uri", "url"):
        fields["source.url"] = source
    elif source_type in ("domain", "fqdn", "hostname"):
        fields["source.fqdn"] = source
    else:
        fields["source.ip"] = source
    if report.get("Url"):
        fields["destination.url"] = report["Url"]
    ticket = report.get("TicketNumber") or report.get("ReportID") or report.get("ReportId")
    if ticket and not ctx.foreign_ticket:
        ctx.foreign_ticket = str(ticket)[:100]
    if ticket:
        fields["extra.foreign_ticket"] = str(ticket)[:100]
    if reporter.get("ReporterOrg") and not ctx.provider:
        ctx.provider = str(reporter["ReporterOrg"])[:200]
    return fields


def parse_mail(stream: Readable, ctx: Context) -> Iterator[Item]:
    data = read_document(stream, "e-mail")
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise ReportError("This is not an e-mail message (no headers).")
    subject = str(message.get("Subject", ""))
    match = TICKET.search(subject)
    if match:
        ctx.foreign_ticket = (match.group(1) or match.group(2)).replace(" ", "")[:100]
    sender = str(message.get("From", ""))
    ctx.provider = ctx.provider or sender[:200]
    number = 0
    found = False
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "application/json" or (
            content_type == "text/plain" and part.get_filename("").endswith(".json")
        ):
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                continue
            found = True
            for item in _xarf_records(payload, ctx, number + 1):
                number = item.number
                if item.fields is not None and ctx.foreign_ticket:
                    item.fields.setdefault("extra.foreign_ticket", ctx.foreign_ticket)
                yield item
        elif content_type == "message/feedback-report":
            found = True
            number += 1
            raw = _part_text(part)
            try:
                fields = _feedback_fields(raw, ctx)
            except ValueError as exc:
                yield Item(number, clip(raw), error=str(exc))
                continue
            if ctx.foreign_ticket:
                fields["extra.foreign_ticket"] = ctx.foreign_ticket
            fields["extra.subject"] = subject[:300]
            yield Item(number, clip(raw), fields)
    if not found:
        raise ReportError(
            "The e-mail carries no X-ARF part (application/json) and no ARF feedback report "
            "(message/feedback-report)."
        )


def _part_text(part: Any) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):  # message/* parts parse into sub-messages
        return "".join(p.as_string() for p in payload)
    if isinstance(payload, str):
        return payload
    data = part.get_payload(decode=True) or b""
    return bytes(data).decode("utf-8", "backslashreplace")


def _feedback_fields(text: str, ctx: Context) -> dict[str, Any]:
    """RFC 5965 section 3.1: header-style fields of the machine-readable part."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            values.setdefault(name.strip().lower(), value.strip())
    feedback_type = values.get("feedback-type", "").lower()
    if not feedback_type:
        raise ValueError("the feedback report has no Feedback-Type field")
    if "source-ip" not in values and "reported-domain" not in values:
        raise ValueError("the feedback report names neither Source-IP nor Reported-Domain")
    return {
        "classification.type": FEEDBACK_TYPES.get(feedback_type, "undetermined"),
        "classification.identifier": f"arf-{feedback_type}",
        "source.ip": values.get("source-ip"),
        "source.fqdn": values.get("reported-domain"),
        "source.url": values.get("reported-uri"),
        "time.source": _mail_date(values.get("arrival-date", "")),
        "feed.name": ctx.feed or "arf",
        "feed.provider": ctx.provider,
        "extra.user_agent": values.get("user-agent"),
        "extra.original_mail_from": values.get("original-mail-from"),
    }


def _mail_date(value: str) -> str | None:
    if not value:
        return None
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError):
        return value
