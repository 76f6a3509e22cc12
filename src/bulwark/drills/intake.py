"""The report button: a recipient forwards the drill mail to their report address, the
CERT's mail intake (`exchange/intake.py`) reads it and offers it here first. A message
that quotes a drill token (in a link, or the X-Bulwark-Drill header of a message
forwarded as an attachment) is counted as that recipient's report; a delivery status
notification quoting one marks the address bounced. Anything else is left to the
intake (None)."""

import re
from email.message import EmailMessage, Message

from bulwark.drills import services

HEADER = "X-Bulwark-Drill"


TOKEN = re.compile(r"\A[A-Za-z0-9_-]{20,64}\Z")


def token_of(message: Message) -> str:
    """The drill token a message carries: in a drill header of the message or of a
    message forwarded inside it, else in a tracking link of any text part."""
    texts: list[str] = []
    for part in message.walk():
        value = str(part.get(HEADER, "")).strip()
        if TOKEN.match(value):
            return value
        if part.get_content_maintype() == "text" or part.get_content_type() in (
            "message/delivery-status",
            "text/rfc822-headers",
        ):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                texts.append(payload.decode("utf-8", "replace"))
            elif isinstance(part.get_payload(), list):
                texts.extend(str(p) for p in part.get_payload())
    for text in texts:
        token = services.token_in(text)
        if token:
            return token
    return ""


def handle(message: EmailMessage) -> str | None:
    token = token_of(message)
    if not token:
        return None
    is_bounce = message.get_content_type() == "multipart/report" and (
        message.get_param("report-type") == "delivery-status"
    )
    if is_bounce:
        event = services.record_bounce(token)
        return f"drill bounce #{event.pk}" if event is not None else None
    event = services.record_report(token)
    return f"drill report #{event.pk}" if event is not None else None
