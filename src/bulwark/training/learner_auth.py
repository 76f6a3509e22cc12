"""Learner sign-in, apart from platform users.

A learner is not a `User`: signing in stores the learner's id (and a digest of their
password hash, so changing the password ends other sessions) under its own session key
and never touches `request.user`, which stays anonymous. Every platform page and the API
therefore treat a learner as a visitor who is not signed in: they reach the learner pages
(`/training/learn/...`) and nothing else."""

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from bulwark.core.registry import Hook
from bulwark.training.models import Learner

SESSION_KEY = "_training_learner"

# The sign-in page's single-sign-on buttons, [(label, URL)], from the app that signs
# learners in through their agency's identity provider (sso, a higher layer, installs it
# from its AppConfig.ready; training imports nothing of it).
SSO_BUTTONS: Hook[Callable[[HttpRequest], list[tuple[str, str]]]] = Hook(
    "learner single sign-on buttons"
)


def sso_buttons(request: HttpRequest) -> list[tuple[str, str]]:
    return SSO_BUTTONS.call(request) if SSO_BUTTONS.installed else []


def _token(learner: Learner) -> str:
    return f"{learner.pk}:{hashlib.sha256(learner.password.encode()).hexdigest()[:16]}"


def sign_in(request: HttpRequest, learner: Learner) -> None:
    # A new session key at sign-in (no session fixation), as Django's own login does.
    request.session.cycle_key()
    request.session[SESSION_KEY] = _token(learner)


def sign_out(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
    request.session.cycle_key()


def current_learner(request: HttpRequest) -> Learner | None:
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or ":" not in token:
        return None
    pk = token.split(":", 1)[0]
    if not pk.isdigit():
        return None
    learner = (
        Learner.objects.filter(pk=int(pk), is_active=True).select_related("organisation").first()
    )
    if learner is None or _token(learner) != token:
        return None
    return learner


ViewFunc = Callable[..., HttpResponse]


def learner_required(view: ViewFunc) -> ViewFunc:
    """The view runs with `learner` as its second argument, or the visitor goes to the
    learner sign-in page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        learner = current_learner(request)
        if learner is None:
            return redirect(f"/training/learn/sign-in/?next={request.path}")
        return view(request, learner, *args, **kwargs)

    return wrapped
