"""The statistics API: every dashboard figure as JSON or CSV, and the trends with their
forecasts. Each answer is counted for the caller through `visible_to`."""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from bulwark.analytics import figures, periods, snapshots, trends
from bulwark.core import csvexport


class FigureCSVRenderer(renderers.BaseRenderer):
    """`?format=csv`: a figure's table (columns, then one line per row)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        if isinstance(data, dict) and "columns" in data and "rows" in data:
            text = csvexport.text(data["columns"], data["rows"])
        elif isinstance(data, dict) and "keys" in data:
            items = data["keys"]
            text = csvexport.text(
                [_("Key"), _("Title"), _("Group")],
                ([i["key"], i["title"], i["group"]] for i in items),
            )
        else:  # an error: its message, one line per field
            text = csvexport.text([_("Field"), _("Message")], list((data or {}).items()))
        return text.encode("utf-8")


PERIOD_PARAMETERS = [
    OpenApiParameter("period", str, description="YYYY, YYYY-Qn or YYYY-MM (default: this year)"),
    OpenApiParameter("since", OpenApiTypes.DATE, description="first day (with until)"),
    OpenApiParameter("until", OpenApiTypes.DATE, description="last day, inclusive"),
    OpenApiParameter("drills", bool, description="include drills (default: excluded)"),
]


def period_from(params: Any) -> periods.Period:
    try:
        return periods.parse(params.get("period"), params.get("since"), params.get("until"))
    except periods.BadPeriod as exc:
        raise ValidationError({"period": str(exc)}) from None


def drills_from(params: Any) -> bool:
    return str(params.get("drills", "")).lower() in ("1", "true", "yes")


class StatisticsViewSet(viewsets.ViewSet):
    """Statistics and trends. Every number is counted as you may see it: an authority
    sees its agencies' figures, an agency its own, the CERT all."""

    scope_resource = "stats"
    lookup_field = "key"
    lookup_value_regex = r"[a-z_]{1,60}"
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, FigureCSVRenderer]

    @extend_schema(operation_id="v1_stats_list", responses=OpenApiTypes.OBJECT)
    def list(self, request: Request) -> Response:
        """The figures there are, by group."""
        return Response(
            {
                "keys": [
                    {"key": d.key, "title": str(d.title), "group": str(d.group)}
                    for d in figures.DASHBOARDS.values()
                ],
                "trends": list(figures.FIVE),
            }
        )

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def retrieve(self, request: Request, key: str | None = None) -> Response:
        """One figure for a period: its columns and rows (`?format=csv` for CSV)."""
        if key not in figures.DASHBOARDS:
            raise NotFound(_("There is no figure %(key)s.") % {"key": key})
        period = period_from(request.query_params)
        figure, counted_at = snapshots.compute(
            key, request.user, period, drills=drills_from(request.query_params)
        )
        data = figure.as_dict()
        data["period"] = {"label": period.label, "first": period.first, "last": period.last}
        data["counted_at"] = counted_at
        response = Response(data)
        if (
            getattr(request, "accepted_renderer", None)
            and request.accepted_renderer.format == "csv"
        ):
            response["Content-Disposition"] = f'attachment; filename="{key}-{period.label}.csv"'
        return response

    @extend_schema(
        parameters=[
            OpenApiParameter("until", str, description="last month of history, YYYY-MM"),
            OpenApiParameter("horizon", int, description="months ahead: 3 or 12 (default 12)"),
            OpenApiParameter("drills", bool),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=True, methods=["get"])
    def trend(self, request: Request, key: str | None = None) -> Response:
        """Month-by-month history of one of the report's five figures with forecasts for
        the total and the largest categories (method, 80/95 % intervals, backtest MASE)."""
        if key not in figures.SOURCES:
            raise NotFound(_("There is no trend for %(key)s.") % {"key": key})
        params = request.query_params
        until = None
        if params.get("until"):
            try:
                until = periods.parse(params["until"]).last
            except periods.BadPeriod as exc:
                raise ValidationError({"until": str(exc)}) from None
        try:
            horizon = int(params.get("horizon", 12))
        except ValueError:
            raise ValidationError({"horizon": _("horizon must be 3 or 12")}) from None
        if horizon not in trends.HORIZONS:
            raise ValidationError({"horizon": _("horizon must be 3 or 12")})
        result, counted_at = snapshots.trend(
            key, request.user, until=until, horizon=horizon, drills=drills_from(params)
        )
        return Response({**result.as_dict(), "counted_at": counted_at})
