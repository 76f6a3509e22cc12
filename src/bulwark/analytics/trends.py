"""Trends: each of the report's figures month by month, with a forecast of the months
ahead for the total and the largest categories. The history is counted through
`visible_to` like every other figure; the forecasting itself is the pure `forecast`
module."""

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.utils.translation import gettext as _

from bulwark.analytics import figures
from bulwark.analytics.forecast import Forecast, forecast
from bulwark.analytics.periods import Period, add_months, local_zone
from bulwark.core.permissions import Reader

HISTORY_MONTHS = 60
TOP_CATEGORIES = 5
HORIZONS = (3, 12)


@dataclass(frozen=True)
class Series:
    label: str
    history: tuple[int, ...]
    forecast: Forecast


@dataclass(frozen=True)
class Trend:
    key: str
    title: str
    months: tuple[date, ...]  # the history's months (first day of each)
    ahead: tuple[date, ...]  # the forecast's months
    series: tuple[Series, ...]

    def as_dict(self) -> dict[str, Any]:
        def month(day: date) -> str:
            return f"{day.year}-{day.month:02d}"

        return {
            "key": self.key,
            "title": self.title,
            "months": [month(m) for m in self.months],
            "forecast_months": [month(m) for m in self.ahead],
            "series": [
                {
                    "label": s.label,
                    "history": list(s.history),
                    "forecast": {
                        "method": s.forecast.method,
                        "method_label": s.forecast.method_label,
                        "point": _rounded(s.forecast.point),
                        "lower80": _rounded(s.forecast.lower80),
                        "upper80": _rounded(s.forecast.upper80),
                        "lower95": _rounded(s.forecast.lower95),
                        "upper95": _rounded(s.forecast.upper95),
                        "mase": _round(s.forecast.mase),
                        "baseline_mase": _round(s.forecast.baseline_mase),
                        "backtest_origins": s.forecast.backtest_origins,
                        "note": s.forecast.note,
                    },
                }
                for s in self.series
            ],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _rounded(values: tuple[float, ...]) -> list[float]:
    return [round(v, 2) for v in values]


def last_full_month(today: date | None = None) -> date:
    """The first day of the last month that has ended."""
    today = today or datetime.now(local_zone()).date()
    return add_months(today.replace(day=1), -1)


def trend(
    user: Reader,
    key: str,
    *,
    until: date | None = None,
    horizon: int = 12,
    drills: bool = False,
) -> Trend:
    """History up to the month containing `until` (at most the last complete month)
    and forecasts `horizon` months beyond it, for the total and the largest categories.
    Months before the first month with any record are left out: they are before the
    platform held data, not months without incidents."""
    source = figures.SOURCES.get(key)
    if source is None:
        raise figures.UnknownFigure(key)
    if horizon not in HORIZONS:
        raise ValueError(f"horizon must be one of {HORIZONS}")
    # A month not yet over would read as a drop: the history ends with the last whole one.
    last = min((until or last_full_month()).replace(day=1), last_full_month())
    first = add_months(last, -(HISTORY_MONTHS - 1))
    window = Period(first, add_months(last, 1) - timedelta(days=1), "")
    counted = source.monthly(user, window.start, window.end, drills)
    months = window.months()
    totals = [sum(cells.get(m, 0) for cells in counted.values()) for m in months]
    start = next((i for i, n in enumerate(totals) if n), len(months))
    months = months[start:]
    ranked = sorted(counted, key=lambda label: -sum(counted[label].values()))
    rows: list[tuple[str, list[int]]] = [(_("All"), totals[start:])]
    rows += [
        (label, [counted[label].get(m, 0) for m in months]) for label in ranked[:TOP_CATEGORIES]
    ]
    series = tuple(
        Series(label, tuple(history), forecast(history, horizon, translate=_))
        for label, history in rows
    )
    ahead = tuple(add_months(last, i) for i in range(1, horizon + 1))
    return Trend(key, str(source.title), tuple(months), ahead, series)


def to_json(trend: Trend) -> dict[str, Any]:
    """Everything needed to rebuild the trend exactly (for the snapshot store)."""
    return {
        "key": trend.key,
        "title": trend.title,
        "months": [m.isoformat() for m in trend.months],
        "ahead": [m.isoformat() for m in trend.ahead],
        "series": [
            {"label": s.label, "history": list(s.history), "forecast": asdict(s.forecast)}
            for s in trend.series
        ],
    }


def from_json(data: dict[str, Any]) -> Trend:
    def forecast_of(raw: dict[str, Any]) -> Forecast:
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        return Forecast(**fields)

    return Trend(
        key=data["key"],
        title=data["title"],
        months=tuple(date.fromisoformat(m) for m in data["months"]),
        ahead=tuple(date.fromisoformat(m) for m in data["ahead"]),
        series=tuple(
            Series(s["label"], tuple(s["history"]), forecast_of(s["forecast"]))
            for s in data["series"]
        ),
    )
