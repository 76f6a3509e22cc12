from datetime import datetime

from django import template
from django.utils.translation import gettext as _

from bulwark.incidents.clocks import Clock

register = template.Library()


def _span(seconds: float) -> str:
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)d d %(h)d h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": mins}
    return _("%(m)d min") % {"m": mins}


@register.filter
def time_left(clock: Clock, now: datetime) -> str:
    """'2 h 15 min left' or 'overdue by 3 h' for an open clock; empty otherwise."""
    remaining = clock.remaining(now)
    if remaining is None:
        return ""
    seconds = remaining.total_seconds()
    if seconds >= 0:
        return _("%(t)s left") % {"t": _span(seconds)}
    return _("overdue by %(t)s") % {"t": _span(seconds)}


STATE_LABELS = {
    "pending": "not started",
    "running": "due",
    "met": "met on time",
    "met_late": "met late",
    "overdue": "overdue",
    "not_applicable": "not applicable",
}


@register.filter
def clock_label(clock: Clock) -> str:
    return _(STATE_LABELS[str(clock.state)])


@register.filter
def nearest_open(clocks: list[Clock]) -> Clock | None:
    open_clocks = [c for c in clocks if c.is_open and c.due_at is not None]
    return min(open_clocks, key=lambda c: c.due_at) if open_clocks else None  # type: ignore[arg-type,return-value]
