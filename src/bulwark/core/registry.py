"""What core runs on behalf of the apps above it, registered by them at start-up.

`core` is the bottom layer and imports no app (docs/architecture.md, "Layers and import
contracts"; import-linter checks it). Where core used to call into an app (the scheduler's
task list, the metrics read from the database, the home page's figures, who reads the
audit log, who reads the metrics), the app now registers what it has from its
`AppConfig.ready()`, the way each app already adds its token scopes:

    class IncidentsConfig(AppConfig):
        def ready(self) -> None:
            from bulwark.core import registry

            registry.PERIODIC_TASKS.register("bulwark.incidents.tasks.check_clocks")

Registering twice is harmless (the second is ignored), so a `ready()` run again by a test
adds nothing.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from types import ModuleType
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.module_loading import import_string

T = TypeVar("T")


class Registry(Generic[T]):
    """An ordered list of what apps registered, in registration (INSTALLED_APPS) order.
    An item may be given as its dotted path, imported when the registry is first read:
    `ready()` then costs no import (the statistics tasks bring numpy and SciPy)."""

    def __init__(self, what: str, *, modules: bool = False) -> None:
        self.what = what
        self.modules = modules  # the items are module names, imported when read
        self._items: list[T | str] = []

    def register(self, item: T | str) -> T | str:
        if item not in self._items:
            self._items.append(item)
        return item

    def __iter__(self) -> Iterator[T]:
        for item in list(self._items):
            if isinstance(item, str):
                found: Any = import_module(item) if self.modules else import_string(item)
                yield found
            else:
                yield item

    def __len__(self) -> int:
        return len(self._items)


class Hook(Generic[T]):
    """One function that exactly one app above core installs (or its dotted path)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._installed: T | str | None = None

    def install(self, function: T | str) -> None:
        self._installed = function

    @property
    def installed(self) -> bool:
        """Whether an app provides it (for a link that is optional)."""
        return self._installed is not None

    @property
    def call(self) -> T:
        if self._installed is None:
            raise ImproperlyConfigured(f"No installed app provides {self.what}.")
        if isinstance(self._installed, str):
            self._installed = import_string(self._installed)
        return self._installed  # type: ignore[return-value]


@dataclass(frozen=True)
class AuditReader:
    """What a user may read of the audit log, by the organisation rule
    (`core.models.AuditEntryQuerySet.visible_to` adds each object's own visibility)."""

    everything: bool = False  # platform admins read every entry
    organisations: frozenset[int] = frozenset()  # else the entries about these
    # Sees (nearly) every object of every model: decides the shape of the visibility
    # condition (an EXISTS probe per entry instead of a list of visible ids).
    sees_everything: bool = False

    @property
    def may_read(self) -> bool:
        return self.everything or bool(self.organisations)


# Tasks `bulwark scheduler` enqueues every interval (django-tasks `Task` objects, by path).
PERIODIC_TASKS: Registry[Any] = Registry("periodic tasks")
# Figures `/metrics` reads from the database at scrape time: each is called with the
# scrape's time and yields prometheus_client metric families.
DATABASE_METRICS: Registry[Callable[[datetime], Iterable[Any]]] = Registry("database metrics")
# The home page's figures: each is called with the signed-in user and returns names for
# the template (`counts` entries, or other context under their own names).
HOME_FIGURES: Registry[Callable[[Any], dict[str, Any]]] = Registry("home page figures")
# Heavy modules that web servers (`bulwark.wsgi`) and `bulwark worker` import before they
# take requests or tasks, so the first visitor or task does not pay for the import.
PRELOAD: Registry[ModuleType] = Registry("preloaded modules", modules=True)
# Apps above the mail intake (`exchange/intake.py`) that claim an inbound message first:
# each is called with the parsed message and returns what it did, or None to pass it on
# (drills: a forwarded drill mail is a recipient's report).
MAIL_INTAKE: Registry[Callable[[Any], str | None]] = Registry("mail intake handlers")

# Who reads which part of the audit log (installed by the constituency app).
AUDIT_READER: Hook[Callable[[Any], AuditReader]] = Hook("the audit log's reader rule")
# Why a request may not read /metrics without an allowed address (None: it may);
# installed by the app that owns API tokens.
METRICS_TOKEN_REFUSAL: Hook[Callable[[HttpRequest], str | None]] = Hook(
    "the metrics endpoint's token check"
)
# Enrol a person in a course from an app below training (drills: those who clicked in a
# social-engineering drill), called with (organisation id, e-mail address, course code)
# and answering whether a learner was newly enrolled; installed by the training app. The
# link is optional: check `TRAINING_ENROLMENT.installed` first.
TRAINING_ENROLMENT: Hook[Callable[[int, str, str], bool]] = Hook("training enrolment")
