"""A drill message composed for one recipient: their language, their name and their own
tracking links (the token is in every link, so a forwarded copy still names them)."""

import html
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend

from bulwark.drills.models import Campaign, Recipient, SendingProfile

PLACEHOLDERS = ("{{name}}", "{{link}}")


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    attachment: tuple[str, str] | None  # (file name, HTML content)


def base_url(campaign: Campaign) -> str:
    scheme = "http" if settings.DEBUG else "https"
    return f"{scheme}://{campaign.tracking_domain}"


def links(campaign: Campaign, token: str) -> dict[str, str]:
    root = f"{base_url(campaign)}/d/{token}"
    return {
        "click": f"{root}/go",
        "open": f"{root}/open.gif",
        "attachment": f"{root}/a.gif",
    }


def compose(campaign: Campaign, recipient: Recipient) -> Message:
    chinese = recipient.language == Recipient.Language.ZH_HANT
    subject = campaign.subject_zh_hant if chinese else campaign.subject_en
    body = campaign.body_zh_hant if chinese else campaign.body_en
    urls = links(campaign, recipient.token)
    name = recipient.name or recipient.email.split("@")[0]
    text = body.replace("{{name}}", name).replace("{{link}}", urls["click"])
    parts = []
    for paragraph in body.split("\n\n"):
        escaped = html.escape(paragraph).replace("{{name}}", html.escape(name))
        anchor = f'<a href="{html.escape(urls["click"])}">{html.escape(urls["click"])}</a>'
        parts.append("<p>" + escaped.replace("{{link}}", anchor).replace("\n", "<br>") + "</p>")
    pixel = f'<img src="{html.escape(urls["open"])}" width="1" height="1" alt="">'
    markup = "<html><body>" + "".join(parts) + pixel + "</body></html>"
    attachment = None
    if campaign.attachment_name:
        beacon = f'<img src="{html.escape(urls["attachment"])}" width="1" height="1" alt="">'
        attachment = (
            campaign.attachment_name,
            f"<html><body><p>{html.escape(subject)}</p>{beacon}</body></html>",
        )
    return Message(subject, text, markup, attachment)


def connection_for(profile: SendingProfile) -> BaseEmailBackend:
    """The profile's own relay, or the platform's mail settings when it names none."""
    if profile.host:
        return get_connection(
            "django.core.mail.backends.smtp.EmailBackend",
            host=profile.host, port=profile.port, use_tls=profile.use_tls,
            fail_silently=False, timeout=getattr(settings, "EMAIL_TIMEOUT", None) or 30,
        )  # fmt: skip
    return get_connection(fail_silently=False)


def build(
    campaign: Campaign, recipient: Recipient, connection: BaseEmailBackend
) -> EmailMultiAlternatives:
    message = compose(campaign, recipient)
    profile = campaign.sending_profile
    email = EmailMultiAlternatives(
        message.subject,
        message.text,
        profile.from_address,
        [recipient.email],
        connection=connection,
        reply_to=[profile.reply_to] if profile.reply_to else None,
        headers={"X-Bulwark-Drill": recipient.token},
    )
    email.attach_alternative(message.html, "text/html")
    if message.attachment is not None:
        email.attach(message.attachment[0], message.attachment[1], "text/html")
    return email
