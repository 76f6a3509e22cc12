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
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bulwark.analytics import charts, figures, periods, services, snapshots, trends
from bulwark.analytics.figure_table import Figure
from bulwark.analytics.models import LANGUAGES, Cadence, Subscription
from bulwark.constituency.access import acting_user, viewer_of
from bulwark.core.permissions import can

GROUPS = (
    ("report", figures.GROUP_REPORT),
    ("incidents", figures.GROUP_INCIDENTS),
    ("timeliness", figures.GROUP_TIMELINESS),
    ("activity", figures.GROUP_ACTIVITY),
    ("drills", figures.GROUP_DRILLS),
    ("trends", None),
)
CHART_CACHE_SECONDS = 3600
# Groups whose figures are counted after the page is shown, one request per figure: the
# timeliness medians took 0.2-0.3 s each on the demo data, four of them per page.
LAZY_GROUPS = {"timeliness"}


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


def _chart_url(key: str, period: periods.Period, drills: bool, trend: int = 0) -> str:
    query = [f"key={key}", period.query, "drills=1" if drills else ""]
    if trend:
        query.append(f"trend={trend}")
    return reverse("stats-chart") + "?" + "&".join(q for q in query if q)


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
        # Each trend (60 months counted, a forecast fitted: 0.3-0.6 s) arrives after the
        # page, as its own request (htmx), so the page answers at once.
        horizon = 3 if params.get("horizon") == "3" else 12
        for source in figures.FIVE_SOURCES:
            panels.append(
                {
                    "key": source.key,
                    "title": source.title,
                    "panel_url": _chart_url(source.key, period, drills, trend=horizon),
                }
            )
    else:
        for dashboard_ in figures.DASHBOARDS.values():
            if dashboard_.group != dict(GROUPS)[group]:
                continue
            if group in LAZY_GROUPS:
                panels.append(
                    {
                        "key": dashboard_.key,
                        "title": dashboard_.title,
                        "figure_url": _chart_url(dashboard_.key, period, drills) + "&panel=1",
                    }
                )
                continue
            figure, counted_at = snapshots.compute(
                dashboard_.key, request.user, period, drills=drills
            )
            panels.append(
                {
                    "key": dashboard_.key,
                    "figure": figure,
                    "counted_at": counted_at,
                    "chart_url": _chart_url(dashboard_.key, period, drills)
                    if figure.chart != "none"
                    else "",
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
            "is_cert": can(request.user, "analytics.write_report"),
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
def chart(request: HttpRequest) -> HttpResponse:
    """One panel's chart, fetched by the page after it is shown (htmx, `hx-trigger=load`):
    drawing a chart takes matplotlib 0.1-0.5 s, so the page with its tables comes first and
    the charts follow. The figure is the snapshot the page just counted (or counts it, as
    the viewer sees it); the drawing is cached by content."""
    params = request.GET
    key = params.get("key", "")
    drills = params.get("drills") in ("1", "on", "true")
    try:
        period = periods.parse(params.get("period"), params.get("since"), params.get("until"))
    except periods.BadPeriod as exc:
        return HttpResponseBadRequest(str(exc))
    if params.get("trend"):  # the whole panel of a trend: chart and forecast table
        if key not in figures.FIVE:
            return HttpResponseBadRequest(_("Unknown figure."))
        horizon = 3 if params.get("trend") == "3" else 12
        trend, _at = snapshots.trend(
            key, request.user, until=period.last, horizon=horizon, drills=drills
        )
        query = "&".join(q for q in (period.query, "drills=1" if drills else "") if q)
        response = render(
            request,
            "analytics/_trend_panel.html",
            {
                "panel": {
                    "key": key,
                    "title": trend.title,
                    "svg": mark_safe(_trend_svg(trend, trend.series[0])),  # noqa: S308 (matplotlib's escaped SVG)
                    "series": trend.series,
                    "months": len(trend.months),
                },
                "query": query,
            },
        )
        response["Cache-Control"] = "private, max-age=300"
        return response
    else:
        if key not in figures.DASHBOARDS:
            return HttpResponseBadRequest(_("Unknown figure."))
        figure, counted = snapshots.compute(key, request.user, period, drills=drills)
        if params.get("panel"):  # the whole panel: title, chart (fetched in turn), table
            query = "&".join(q for q in (period.query, "drills=1" if drills else "") if q)
            panel = {
                "key": key,
                "counted_at": counted,
                "chart_url": _chart_url(key, period, drills) if figure.chart != "none" else "",
            }
            response = render(
                request,
                "analytics/_figure_panel.html",
                {"f": figure, "panel": panel, "query": query},
            )
            response["Cache-Control"] = "private, max-age=300"
            return response
        svg = cached_svg(figure)
    response = HttpResponse(svg, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"  # counted for this viewer only
    return response


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
        services.unsubscribe(user, cadence)
        messages.info(request, _("You will no longer receive that summary."))
    else:
        if not user.email:
            messages.error(request, _("Your account has no e-mail address to send the summary to."))
            return redirect("stats-dashboard")
        services.subscribe(user, cadence, language)
        messages.success(request, _("You will receive this summary by e-mail."))
    return redirect("stats-dashboard")
