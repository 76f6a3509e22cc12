"""Each person's display time zone: every time shown names its zone, and every time typed
into a form is read in the zone its label names, whatever zone the browser runs in (a
browser in another zone once recorded a notification 8 h late)."""

import zoneinfo
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bulwark.constituency import services


@cache
def zone_names() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


def zone_label(moment: datetime | None = None) -> str:
    """The current zone and its offset at `moment` (now by default): 'Asia/Taipei, UTC+08:00'."""
    zone = timezone.get_current_timezone()
    local = timezone.localtime(moment or timezone.now(), zone)
    offset = local.strftime("%z")
    return f"{zone}, UTC{offset[:3]}:{offset[3:]}"


class UserTimeZoneMiddleware:
    """Activates the signed-in person's zone (after authentication); the platform's
    TIME_ZONE otherwise."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = getattr(getattr(request, "user", None), "time_zone", "") or ""
        if name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        # Not deactivated on the way out: a streamed CSV is written after this returns, in
        # the same zone; every request sets the zone afresh at its start.
        return self.get_response(request)


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(label=gettext_lazy("Time zone"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        default = _("Platform default (%(zone)s)") % {"zone": settings.TIME_ZONE}
        self.fields["time_zone"].choices = [("", default)] + [(z, z) for z in zone_names()]  # type: ignore[attr-defined]


@login_required
def time_zone_preference(request: HttpRequest) -> HttpResponse:
    """The person's own setting: which zone their pages show and their forms read."""
    user: Any = request.user
    form = TimeZoneForm(request.POST or None, initial={"time_zone": user.time_zone})
    if request.method == "POST" and form.is_valid():
        services.set_time_zone(user, form.cleaned_data["time_zone"])
        messages.success(
            request,
            _("Times are now shown in %(zone)s.") % {"zone": user.time_zone or settings.TIME_ZONE},
        )
        return redirect("time-zone")
    return render(request, "constituency/time_zone.html", {"form": form})
