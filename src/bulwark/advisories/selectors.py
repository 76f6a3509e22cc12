"""Reads for pages and the API, always starting from `visible_to(user)` querysets."""

from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.module_loading import import_string

from bulwark.advisories.models import Advisory, Delivery, Response, Target
from bulwark.core.permissions import Reader


def filter_advisories(advisories: QuerySet[Advisory], params: Any) -> QuerySet[Advisory]:
    for field in ("status", "tlp", "severity", "publication"):
        if params.get(field):
            advisories = advisories.filter(**{field: str(params[field])[:20]})
    if params.get("category"):
        advisories = advisories.filter(category__code=str(params["category"])[:50])
    if params.get("q"):
        q = str(params["q"])[:200]
        advisories = advisories.filter(
            Q(title__icontains=q) | Q(summary__icontains=q) | Q(reference__iexact=q)
        )
    return advisories


def _done(advisory: Advisory) -> Q:
    """Targets that gave the response the advisory requires."""
    if advisory.response_required == Response.ACTION:
        return Q(acted_at__isnull=False)
    if advisory.response_required == Response.ACKNOWLEDGE:
        return Q(acknowledged_at__isnull=False) | Q(acted_at__isnull=False)
    return Q()


def _overdue(advisory: Advisory, now: datetime) -> Q | None:
    if advisory.response_required == Response.NONE or advisory.response_deadline is None:
        return None
    if now <= advisory.response_deadline:
        return None
    return ~_done(advisory)


STATE_ORDER = ["unread", "read", "acknowledged", "acted", "overdue"]


def state_filter(advisory: Advisory, state: str, now: datetime) -> Q | None:
    """The exclusive tracking states, as the model's `tracking_state` computes them."""
    acted = Q(acted_at__isnull=False)
    overdue = _overdue(advisory, now)
    not_overdue = ~overdue if overdue is not None else Q()
    if state == "acted":
        return acted
    if state == "overdue":
        return (overdue & ~acted) if overdue is not None else Q(pk__in=[])
    rest = ~acted & not_overdue
    if state == "acknowledged":
        return rest & Q(acknowledged_at__isnull=False)
    if state == "read":
        return rest & Q(acknowledged_at__isnull=True, read_at__isnull=False)
    if state == "unread":
        return rest & Q(acknowledged_at__isnull=True, read_at__isnull=True)
    return None


def targets_in_state(advisory: Advisory, state: str, now: datetime) -> QuerySet[Target]:
    targets = Target.objects.filter(advisory=advisory)
    condition = state_filter(advisory, state, now)
    return targets.filter(condition) if condition is not None else targets


def tracking_counts(advisory: Advisory, now: datetime) -> dict[str, int]:
    """One aggregate query: how many targets are in each state, plus the totals of those
    who have read, acknowledged and acted at all."""
    aggregates: dict[str, Any] = {"total": Count("pk")}
    for state in STATE_ORDER:
        aggregates[state] = Count("pk", filter=state_filter(advisory, state, now))
    aggregates["ever_read"] = Count("pk", filter=Q(read_at__isnull=False))
    aggregates["ever_acknowledged"] = Count("pk", filter=Q(acknowledged_at__isnull=False))
    result = Target.objects.filter(advisory=advisory).aggregate(**aggregates)
    return {k: int(v or 0) for k, v in result.items()}


def delivery_counts(advisory: Advisory) -> dict[str, int]:
    rows = (
        Delivery.objects.filter(advisory=advisory)
        .values("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    counts = {state: 0 for state in Delivery.State.values}
    counts.update(dict(rows))
    return counts


# What apps above advisories show on an advisory's page, by template name: the dotted path
# of a function (user, advisory) -> value, registered from their AppConfig.ready (findings
# adds `open_findings`: the agencies with findings still open for the advisory's CVEs), so
# advisories imports none of them (docs/architecture.md, "Layers").
DETAIL_PANELS: dict[str, str] = {}


def detail_panels(user: Reader, advisory: Advisory) -> dict[str, Any]:
    return {name: import_string(path)(user, advisory) for name, path in DETAIL_PANELS.items()}
