"""The statistics pages: the dashboards by group for any period, and the trends with
their forecasts. Charts are drawn on the server (the same pictures as the annual report)
and cached by content: the same numbers in the same language draw the same SVG."""

import hashlib
from typing import Any

import orjson
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bulwark.analytics import charts, figures, periods, snapshots, trends
from bulwark.analytics.figure import Figure
from bulwark.analytics.models import LANGUAGES, Cadence, Subscription
from bulwark.constituency.access import acting_user, viewer_of

GROUPS = (
    ("report", figures.GROUP_REPORT),
    ("incidents", figures.GROUP_INCIDENTS),
    ("timeliness", figures.GROUP_TIMELINESS),
    ("activity", figures.GROUP_ACTIVITY),
    ("trends", None),
)
CHART_CACHE_SECONDS = 3600


def cached_svg(figure: Figure) -> str:
    """The figure's chart, from the cache when these very numbers were drawn before."""
    lang = get_language() or "en"
    digest = hashlib.sha256(orjson.dumps([lang, figure.as_dict()], default=str)).hexdigest()
    key = f"analytics:svg:{digest}"
    svg = cache.get(key)
    if svg is None:
        svg = charts.render_svg(figure, lang, title=False)
        cache.set(key, svg, CHART_CACHE_SECONDS)
    return str(svg)


def _trend_svg(trend: trends.Trend, series: trends.Series) -> str:
    lang = get_language() or "en"
    labels = [f"{m.year}-{m.month:02d}" for m in trend.months]
    payload = [lang, trend.key, series.label, labels, series.history, series.forecast.point]
    digest = hashlib.sha256(orjson.dumps(payload, default=str)).hexdigest()
    key = f"analytics:trend:{digest}"
    svg = cache.get(key)
    if svg is None:
        svg = charts.chart_forecast(labels, series.history, series.forecast, "", lang=lang)
        cache.set(key, svg, CHART_CACHE_SECONDS)
    return str(svg)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    params = request.GET
    group = params.get("group", "report")
    if group not in dict(GROUPS):
        group = "report"
    drills = params.get("drills") in ("1", "on", "true")
    error = ""
    try:
        period = periods.parse(params.get("period"), params.get("since"), params.get("until"))
    except periods.BadPeriod as exc:
        error = str(exc)
        period = periods.parse()
    panels: list[dict[str, Any]] = []
    if group == "trends":
        horizon = 3 if params.get("horizon") == "3" else 12
        for key in figures.FIVE:
            trend, _at = snapshots.trend(
                key, request.user, until=period.last, horizon=horizon, drills=drills
            )
            panels.append(
                {
                    "key": key,
                    "title": trend.title,
                    "svg": mark_safe(_trend_svg(trend, trend.series[0])),  # noqa: S308 (matplotlib's escaped SVG)
                    "series": trend.series,
                    "months": len(trend.months),
                }
            )
    else:
        for dashboard_ in figures.DASHBOARDS.values():
            if dashboard_.group != dict(GROUPS)[group]:
                continue
            figure, counted_at = snapshots.compute(
                dashboard_.key, request.user, period, drills=drills
            )
            panels.append(
                {
                    "key": dashboard_.key,
                    "figure": figure,
                    "counted_at": counted_at,
                    "svg": mark_safe(cached_svg(figure)),  # noqa: S308 (matplotlib's escaped SVG)
                }
            )
    return render(
        request,
        "analytics/dashboard.html",
        {
            "groups": [(key, label or _("Trends")) for key, label in GROUPS],
            "group": group,
            "period": period,
            "params": params,
            "drills": drills,
            "panels": panels,
            "error": error,
            "query": "&".join(q for q in (period.query, "drills=1" if drills else "") if q),
            "is_cert": viewer_of(request.user).sees_everything,
            "subscriptions": {
                s.cadence: s
                for s in Subscription.objects.visible_to(request.user).filter(
                    user_id=viewer_of(request.user).user_id or 0, active=True
                )
            },
            "cadences": Cadence.choices,
            "summary_languages": LANGUAGES,
        },
    )


@login_required
@require_POST
def subscription(request: HttpRequest) -> HttpResponse:
    """Subscribe yourself to (or unsubscribe from) the monthly or quarterly summary."""
    cadence = request.POST.get("cadence", "")
    language = request.POST.get("language", "en")
    if cadence not in Cadence.values or language not in dict(LANGUAGES):
        return HttpResponseBadRequest(_("Choose monthly or quarterly, and English or 繁體中文."))
    user = acting_user(request)
    if request.POST.get("action") == "stop":
        Subscription.objects.filter(user=user, cadence=cadence).update(active=False)
        messages.info(request, _("You will no longer receive that summary."))
    else:
        if not user.email:
            messages.error(request, _("Your account has no e-mail address to send the summary to."))
            return redirect("stats-dashboard")
        Subscription.objects.update_or_create(
            user=user, cadence=cadence, defaults={"active": True, "language": language}
        )
        messages.success(request, _("You will receive this summary by e-mail."))
    return redirect("stats-dashboard")
