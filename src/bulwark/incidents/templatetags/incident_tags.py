import difflib
from datetime import datetime

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bulwark.incidents.clocks import Clock
from bulwark.incidents.workflow import STATUS_LABELS

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
    "pending": gettext_lazy("not started"),
    "running": gettext_lazy("running"),
    "met": gettext_lazy("met on time"),
    "met_late": gettext_lazy("met late"),
    "overdue": gettext_lazy("overdue"),
    "not_applicable": gettext_lazy("not applicable"),
}
# The clocks' names come from the jurisdiction profiles (JSON); listed here so that
# makemessages extracts them and the UI shows them translated.
CLOCK_NAMES = {
    "Notification by the agency": gettext_lazy("Notification by the agency"),
    "Level review by the supervising authority": gettext_lazy(
        "Level review by the supervising authority"
    ),
    "Review forwarded to the competent authority": gettext_lazy(
        "Review forwarded to the competent authority"
    ),
    "Damage control or recovery completed and reported": gettext_lazy(
        "Damage control or recovery completed and reported"
    ),
    "Investigation, handling and improvement report": gettext_lazy(
        "Investigation, handling and improvement report"
    ),
    "Early warning": gettext_lazy("Early warning"),
    "Incident notification": gettext_lazy("Incident notification"),
    "Final report": gettext_lazy("Final report"),
}


@register.filter
def clock_label(clock: Clock) -> str:
    return str(STATE_LABELS[str(clock.state)])


@register.filter
def clock_name(clock: Clock) -> str:
    return str(CLOCK_NAMES.get(clock.label, clock.label))


@register.filter
def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@register.filter
def nearest_open(clocks: list[Clock]) -> Clock | None:
    open_clocks = [c for c in clocks if c.is_open and c.due_at is not None]
    return min(open_clocks, key=lambda c: c.due_at) if open_clocks else None  # type: ignore[arg-type,return-value]


@register.simple_tag
def revision_diff(old: str, new: str) -> SafeString:
    """The words removed from and added to a final-report item between two revisions, as
    <del> and <ins> (everything escaped), so the CERT reads only what changed."""
    before, after = old.split(" "), new.split(" ")
    parts: list[str] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(escape(" ".join(before[a1:a2])))
            continue
        if a2 > a1:
            parts.append(format_html("<del>{}</del>", " ".join(before[a1:a2])))
        if b2 > b1:
            parts.append(format_html("<ins>{}</ins>", " ".join(after[b1:b2])))
    return mark_safe(" ".join(parts).replace("\n", "<br>"))  # noqa: S308 - parts escaped above
