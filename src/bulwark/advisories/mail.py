"""Advisory e-mail: composed once per (advisory, revision, kind, language), sent to each
contact over one SMTP connection per batch, every outcome recorded on its delivery."""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from bulwark.advisories.models import Advisory, Delivery
from bulwark.advisories.rendering import markdown_to_html, markdown_to_text


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str


def compose(advisory: Advisory, kind: str, language: str) -> Message:
    with translation.override(language):
        prefix = {
            "advisory": "",
            "revision": _("Updated: "),
            "reminder": _("Reminder: "),
        }.get(kind, "")
        title = advisory.localised("title", language)
        subject = f"[{advisory.tlp_label}] {prefix}{advisory.reference}: {title}"
        body = advisory.localised("body", language)
        context = {
            "advisory": advisory,
            "kind": kind,
            "title": title,
            "summary": advisory.localised("summary", language),
            "body_text": markdown_to_text(body),
            "body_html": markdown_to_html(body),
            "actions_text": markdown_to_text(advisory.localised("recommended_actions", language)),
            "actions_html": markdown_to_html(advisory.localised("recommended_actions", language)),
            "category": advisory.category.label(language),
            "revision": advisory.revisions.published().first() if kind == "revision" else None,
            "url": settings.SITE_URL + reverse("advisory-detail", args=[advisory.pk]),
        }
        text = render_to_string("advisories/email.txt", context)
        html = render_to_string("advisories/email.html", context)
    return Message(" ".join(subject.split())[:250], text, html)


def deliver(delivery_ids: list[int], record: Callable[..., None]) -> int:
    """Send the given deliveries; returns how many went out. Each outcome is handed to
    `record(delivery_id, error="")` (`services.record_delivery`) as soon as it is known,
    so this module needs no services (the tasks module passes it: no import cycle)."""
    deliveries = list(
        Delivery.objects.filter(pk__in=delivery_ids, state=Delivery.State.QUEUED)
        .select_related("target__advisory__category")
        .order_by("pk")
    )
    cache: dict[tuple[int, int, str, str], Message] = {}
    sent = 0
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except OSError as exc:
        for delivery in deliveries:
            record(delivery.pk, error=f"{type(exc).__name__}: {exc}")
        return 0
    try:
        for delivery in deliveries:
            advisory = delivery.target.advisory
            key = (advisory.pk, delivery.revision, delivery.kind, delivery.language)
            if key not in cache:
                cache[key] = compose(advisory, delivery.kind, delivery.language)
            message = cache[key]
            email = EmailMultiAlternatives(
                message.subject,
                message.text,
                settings.DEFAULT_FROM_EMAIL,
                [delivery.email],
                connection=connection,
                headers={
                    "X-Bulwark-Advisory": advisory.reference,
                    "Auto-Submitted": "auto-generated",
                },
            )
            email.attach_alternative(message.html, "text/html")
            try:
                email.send()
            except Exception as exc:
                record(delivery.pk, error=f"{type(exc).__name__}: {exc}")
                continue
            record(delivery.pk)
            sent += 1
    finally:
        with contextlib.suppress(Exception):  # closing a broken connection
            connection.close()
    return sent
