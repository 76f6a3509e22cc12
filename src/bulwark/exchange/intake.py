"""Mail intake: the CERT points an inbound address at a Maildir (any MTA can deliver
there: Postfix `home_mailbox = Maildir/`, fetchmail, getmail) and `bulwark exchange
poll-mail` (or the periodic task) reads new messages:

- a delivery status notification (RFC 3464 bounce) quoting one of our tickets marks that
  notification bounced and schedules a retry;
- any other message quoting a ticket is a reply and is attached to the ticket;
- everything else is a report (X-ARF or ARF e-mail) and is ingested, kept verbatim.

Each message is moved to `cur/` with the Seen flag after it is handled; handling is
idempotent (replies by Message-ID, reports by content hash), so a crash in between only
means the message is looked at again.
"""

import email
import email.policy
import hashlib
import io
import mailbox
import os
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from bulwark.core import registry
from bulwark.exchange import services
from bulwark.exchange.models import EventNotice, Report
from bulwark.exchange.notify import TICKET

MAX_MESSAGE_BYTES = 50 << 20


@dataclass
class Outcome:
    kind: str  # "reply", "bounce", "report", "ignored", "claimed" (by another app)
    detail: str = ""


def _text_of(message: EmailMessage) -> str:
    parts = []
    for part in message.walk():
        if part.get_content_maintype() == "multipart":
            continue
        if part.get_content_type() in ("text/plain", "message/delivery-status"):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode("utf-8", "replace"))
            elif isinstance(part.get_payload(), list):
                parts.extend(str(p) for p in part.get_payload())
        elif part.get_content_type() == "text/rfc822-headers":
            parts.append(str(part.get_payload()))
    return "\n".join(parts)


def handle(data: bytes) -> Outcome:
    if len(data) > MAX_MESSAGE_BYTES:
        return Outcome("ignored", f"message over {MAX_MESSAGE_BYTES:,} bytes")
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    subject = str(message.get("Subject", ""))
    text = _text_of(message)
    for claim in registry.MAIL_INTAKE:  # an app above claims its own mail (drill reports)
        claimed = claim(message)
        if claimed is not None:
            return Outcome("claimed", claimed)
    is_bounce = message.get_content_type() == "multipart/report" and (
        message.get_param("report-type") == "delivery-status"
    )
    match = TICKET.search(subject) or TICKET.search(text)
    notification = (
        EventNotice.objects.filter(ticket=match.group(1)).first() if match is not None else None
    )
    if notification is not None:
        return _attach(notification, message, subject, text, data, is_bounce)
    if is_bounce:
        return Outcome("ignored", "a bounce that quotes none of our tickets")
    result = services.ingest(
        None, io.BytesIO(data), file_name="mail.eml", fmt="arf", source=Report.Source.EMAIL
    )
    return Outcome("report", f"report #{result.report.pk}: {result.report.status}")


def _attach(
    notification: EventNotice,
    message: EmailMessage,
    subject: str,
    text: str,
    data: bytes,
    is_bounce: bool,
) -> Outcome:
    message_id = str(message.get("Message-ID", "")).strip() or (
        "sha256:" + hashlib.sha256(data).hexdigest()
    )
    diagnostic = next(
        (line.strip() for line in text.splitlines() if line.lower().startswith("diagnostic-code")),
        "bounced",
    )
    attached = services.attach_reply(
        notification,
        message_id=message_id[:300],
        sender=str(message.get("From", ""))[:300],
        subject=subject[:500].replace("\x00", ""),
        body=text[:100_000].replace("\x00", "\\x00"),
        bounce_diagnostic=diagnostic if is_bounce else None,
    )
    if not attached:
        return Outcome("ignored", f"already attached to {notification.ticket}")
    return Outcome("bounce" if is_bounce else "reply", notification.ticket)


def poll_maildir(path: str | Path) -> list[Outcome]:
    box = mailbox.Maildir(str(path), create=True)
    outcomes = []
    for key in list(box.iterkeys()):
        message = box.get_message(key)
        if message.get_subdir() != "new" and "S" in message.get_flags():
            continue
        data = box.get_bytes(key)
        outcomes.append(handle(data))
        message.set_subdir("cur")
        message.add_flag("S")
        box[key] = message
    return outcomes


def maildir_from_settings() -> Any:

    return os.environ.get("BULWARK_EXCHANGE_MAILDIR", "")
