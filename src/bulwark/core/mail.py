"""Mail leaves through one background task, `send_email` (run by `bulwark worker`).

It lives below core's services and the audit anchor, which queue mail, and below
`core/tasks.py`, whose periodic tasks call them; `core.tasks` re-exports it, the name the
apps import and under which mail queued before the move is found."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django_tasks import task


@task()
def send_email(subject: str, body: str, recipients: list[str], html: str = "") -> int:
    message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    if html:
        message.attach_alternative(html, "text/html")
    return message.send()
