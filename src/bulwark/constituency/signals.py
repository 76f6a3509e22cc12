"""Sign-ins and sign-in failures go to the audit log."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from bulwark.constituency.models import User
from bulwark.core import audit


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    audit.record(user, "user.login", user)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    if user is not None:
        audit.record(user, "user.logout", user)


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))[:150]
    audit.record(
        None,
        "user.login_failed",
        object_type="constituency.user",
        object_label=username,
        changes={"username": username},
    )
