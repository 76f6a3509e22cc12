"""Times that name their zone: `{{ moment|when }}` renders
<time datetime="…Z" title="Asia/Taipei">2026-12-07 17:41 UTC+08:00</time>."""

from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from bulwark.constituency.timezones import zone_label

register = template.Library()


@register.filter
def when(moment: datetime | None, empty: str = "") -> SafeString | str:
    if not isinstance(moment, datetime):
        return empty
    local = timezone.localtime(moment)
    offset = local.strftime("%z")
    return format_html(
        '<time datetime="{}" title="{}">{} UTC{}:{}</time>',
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        str(timezone.get_current_timezone()),
        local.strftime("%Y-%m-%d %H:%M"),
        offset[:3],
        offset[3:],
    )


@register.simple_tag
def current_zone_label() -> str:
    return zone_label()


@register.simple_tag
def current_zone_name() -> str:
    return str(timezone.get_current_timezone())


@register.inclusion_tag("constituency/_zone_note.html")
def zone_note() -> dict[str, Any]:
    """'Times are in Asia/Taipei, UTC+08:00 (change)', with a warning added by
    static/js/bulwark.js when the browser's own zone differs."""
    return {"label": zone_label(), "name": str(timezone.get_current_timezone())}
