"""Who may change what: one vocabulary for every app (issue 21).

Reads are governed by each model's `visible_to(user)`; writes by the actions named here.
An action is a verb of one app (`"incident.handle"`, `"intel.write"`,
`"advisory.approve"`, ...). Each app declares its actions in `<app>/rules.py` with
`@action(...)`; `CoreConfig.ready` imports every app's `rules` module (the way Django's
admin discovers `admin.py`), so this module names no app and imports none.

Services call `require(actor, action, obj)` before they write; pages and API views call
`can(user, action, obj)` to decide what they offer, and templates use the `can` tag
(`{% load permissions %}{% can "incident.handle" incident as may_handle %}`). The same
rule answers all three, so a page never offers what its service refuses.

An action that was never declared raises `UnknownAction` when it is asked about: a typo
must neither allow nor deny in silence.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

Actor = AbstractBaseUser | AnonymousUser
# Whoever reads: a signed-in user, an anonymous visitor, or nobody (the platform itself).
Reader = Actor | None
Rule = Callable[[Any, Any], bool]
# Why a refusal: a sentence, or a function of (user, obj) when the reason depends on them.
Refusal = str | Promise | Callable[[Any, Any], str | Promise]
R = TypeVar("R", bound=Rule)

DEFAULT_REFUSAL = gettext_lazy("You are not allowed to do this.")


class UnknownAction(LookupError):
    """`can` or `require` was asked about an action no app declared."""


@dataclass(frozen=True)
class Action:
    name: str
    rule: Rule
    refusal: Refusal
    doc: str


_ACTIONS: dict[str, Action] = {}


def action(name: str, *, refusal: Refusal = DEFAULT_REFUSAL) -> Callable[[R], R]:
    """Declare `name` as an action whose rule is the decorated function
    `rule(user, obj) -> bool`; `refusal` is the reason `require` gives when it is False
    (or a function `(user, obj)` returning it)."""
    if "." not in name:
        raise ValueError(f"an action is named '<app>.<verb>', not {name!r}")

    def declare(rule: R) -> R:
        known = _ACTIONS.get(name)
        if known is not None and known.rule is not rule:
            raise ValueError(f"the action {name!r} is declared twice")
        _ACTIONS[name] = Action(name, rule, refusal, (rule.__doc__ or "").strip())
        return rule

    return declare


def _find(name: str) -> Action:
    try:
        return _ACTIONS[name]
    except KeyError:
        raise UnknownAction(f"no app declares the action {name!r}") from None


def can(user: Actor | None, action: str, obj: Any = None) -> bool:
    """May `user` do `action` (to `obj`)? Nobody (None, anonymous) may; services that let
    the platform itself act (`actor=None`) say so before they ask."""
    rule = _find(action).rule
    if user is None or not user.is_authenticated:
        return False
    return bool(rule(user, obj))


def require(
    user: Actor | None, action: str, obj: Any = None, *, refusal: str | Promise | None = None
) -> None:
    """Raise `PermissionDenied` with the action's reason (or `refusal`) unless `can`."""
    if not can(user, action, obj):
        reason = refusal or _find(action).refusal
        if callable(reason):
            reason = reason(user, obj)
        raise PermissionDenied(str(reason))


def actions() -> dict[str, Action]:
    """Every declared action by name (for the docs and the permission matrix test)."""
    return dict(_ACTIONS)
