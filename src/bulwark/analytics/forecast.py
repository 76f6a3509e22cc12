"""Forecasts of a category's monthly counts, each stating its method and how well that
method did on this very series in a rolling-origin backtest, so nobody trusts a line more
than it deserves. Pure: numpy and scipy only, no Django, deterministic.

Method choice (`forecast`):
- no history: zeros ("none");
- every month zero: zero, with a Poisson upper bound from the rule of three ("tsb");
- half the months or more are zero: TSB sparse-count smoothing with count quantiles
  ("tsb"); a long run of leading zeros followed by dense counts is instead read as the
  time before the category existed and dropped;
- fewer than 12 months: the average ("mean");
- 12 to 23 months (or less than two seasons): seasonal naive;
- 24 months and more: seasonal naive or damped-trend exponential smoothing ETS(A,Ad,A),
  whichever has the lower rolling-origin backtest error (ETS needs at least
  MIN_ORIGINS_TO_SWITCH origins to be chosen over the baseline, so 30 months in practice).

Backtest: origins are the last BACKTEST_MAX_ORIGINS months (fewer if the series is short);
each origin forecasts up to min(horizon, 12) months ahead from the data before it. Model
parameters are estimated once, on the data before the first origin, then the states are
updated month by month: no origin sees its future, and the backtest costs one fit, not 36.
MASE divides the mean absolute error by the mean absolute lag-`season` difference of that
same training part (lag 1 when it is shorter than season + 1 months); it is None, and the
note says why, when that scale is zero.

Intervals: normal (seasonal naive, ETS, mean) or count quantiles (TSB), clipped at zero.
`forecast` also widens the seasonal naive and ETS intervals to at least the error the
backtest measured at each step ahead: the analytic formulas ignore parameter uncertainty
and, alone, covered only 75-89 % of the truth a year ahead at the nominal 95 %.

This module chooses, backtests and explains; the methods themselves (fits, runs and
their intervals) are in `forecast_methods.py`, and are re-exported here.

Labels and notes are English and marked for the translation catalogue; pass Django's
`gettext` as `forecast(..., translate=gettext)` to get them in the user's language.
"""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from bulwark.analytics.forecast_methods import (
    MAX_COUNT,
    MAX_HORIZON,
    MAX_MONTHS,
    MAX_SEASON,
    MIN_SEASON,
    FloatArray,
    Prediction,
    damped_ets,
    damped_ets_prediction,
    ets_fit,
    ets_run,
    mean_prediction,
    no_events_prediction,
    normal_prediction,
    seasonal_naive,
    seasonal_naive_prediction,
    tsb,
    tsb_fit,
    tsb_prediction,
    tsb_run,
    validated_counts,
    validated_int,
)

MIN_MONTHS_SEASONAL = 12
ETS_MIN_MONTHS = 24
SPARSE_ZERO_SHARE = 0.5
BACKTEST_MAX_ORIGINS = 36
BACKTEST_MAX_STEPS = 12
MIN_ORIGINS_TO_SWITCH = 6
MIN_ERRORS_PER_STEP = 6


METHODS = ("seasonal-naive", "damped-trend-ets", "tsb", "naive", "mean", "none")


def gettext_noop(message: str) -> str:
    """Marks a string for the translation catalogue (makemessages looks for this name)
    without importing Django; `forecast(translate=gettext)` translates at run time."""
    return message


METHOD_LABELS = {
    "seasonal-naive": gettext_noop("Seasonal naive (the same month last year)"),
    "damped-trend-ets": gettext_noop("Damped-trend exponential smoothing (additive seasonality)"),
    "tsb": gettext_noop("Sparse-count smoothing (Teunter-Syntetos-Babai)"),
    "naive": gettext_noop("Naive (the last month repeated)"),
    "mean": gettext_noop("Average of the months so far"),
    "none": gettext_noop("No forecast (no history)"),
}


@dataclass(frozen=True)
class Forecast:
    """What `forecast` returns: the bands of `Prediction` for `horizon` months ahead, the
    method (one of METHODS) with its label, and the backtest that justifies it: MASE of
    the method and of seasonal naive on the same `backtest_origins` origins (None when
    there was no origin or a zero scale). `note` says in a sentence why this method and
    how much to trust it."""

    method: str
    method_label: str
    horizon: int
    point: tuple[float, ...]
    lower80: tuple[float, ...]
    upper80: tuple[float, ...]
    lower95: tuple[float, ...]
    upper95: tuple[float, ...]
    mase: float | None
    baseline_mase: float | None
    backtest_origins: int
    note: str


# --- backtest ---------------------------------------------------------------------------


def _min_training(method: str, season: int) -> int:
    return {
        "seasonal-naive": season,
        "naive": 1,
        "mean": 1,
        "tsb": season,
        "damped-trend-ets": max(2 * season, ETS_MIN_MONTHS),
    }[method]


def _first_origin(n: int, method: str, season: int) -> int:
    return max(_min_training(method, season), season, n - BACKTEST_MAX_ORIGINS)


def _backtest_forecasts(
    y: FloatArray, method: str, steps: int, season: int, t0: int
) -> list[FloatArray]:
    """For each origin t0..n-1, the point forecasts of months t .. t+steps-1 (clipped to
    the series end) using only months before t."""
    n = len(y)
    origins = range(t0, n)
    if method == "damped-trend-ets":
        model = ets_fit(y[:t0], season)
        return [np.maximum(f, 0.0) for f in ets_run(model, y, t0, steps)[4]]
    if method == "tsb":
        rates = tsb_run(tsb_fit(y[:t0]), y)
        return [np.full(min(steps, n - t), rates[t]) for t in origins]
    if method == "mean":
        return [np.full(min(steps, n - t), y[:t].mean()) for t in origins]
    lag = 1 if method == "naive" else season
    return [y[t - lag : t][np.arange(min(steps, n - t)) % lag] for t in origins]


def _mean_abs_error(y: FloatArray, forecasts: list[FloatArray], t0: int) -> float:
    errors = [np.abs(y[t0 + i : t0 + i + len(f)] - f) for i, f in enumerate(forecasts)]
    return float(np.mean(np.concatenate(errors)))


def _mase_scale(training: FloatArray, season: int) -> float:
    lag = season if len(training) > season else 1
    if len(training) <= lag:
        return 0.0
    return float(np.mean(np.abs(training[lag:] - training[:-lag])))


def _step_rmse(y: FloatArray, forecasts: list[FloatArray], t0: int, steps: int) -> FloatArray:
    """Root mean squared error at each step ahead; NaN where fewer than
    MIN_ERRORS_PER_STEP origins reached that step."""
    squares: list[list[float]] = [[] for _ in range(steps)]
    for i, f in enumerate(forecasts):
        for j, error in enumerate(y[t0 + i : t0 + i + len(f)] - f):
            squares[j].append(float(error) ** 2)
    return np.array(
        [math.sqrt(np.mean(sq)) if len(sq) >= MIN_ERRORS_PER_STEP else math.nan for sq in squares]
    )


@dataclass(frozen=True)
class _Backtest:
    origins: int
    mase: float | None
    baseline_mase: float | None
    mae: float
    baseline_mae: float
    rmse: FloatArray  # per step ahead, for the intervals
    baseline_rmse: FloatArray


def _backtest(y: FloatArray, method: str, horizon: int, season: int) -> _Backtest | None:
    """`method` and seasonal naive on the same origins; None when there is no origin."""
    t0 = _first_origin(len(y), method, season)
    if t0 >= len(y):
        return None
    steps = min(horizon, BACKTEST_MAX_STEPS)
    forecasts = _backtest_forecasts(y, method, steps, season, t0)
    baseline = (
        forecasts
        if method == "seasonal-naive"
        else _backtest_forecasts(y, "seasonal-naive", steps, season, t0)
    )
    mae, baseline_mae = _mean_abs_error(y, forecasts, t0), _mean_abs_error(y, baseline, t0)
    scale = _mase_scale(y[:t0], season)
    return _Backtest(
        origins=len(y) - t0,
        mase=mae / scale if scale > 0 else None,
        baseline_mase=baseline_mae / scale if scale > 0 else None,
        mae=mae,
        baseline_mae=baseline_mae,
        rmse=_step_rmse(y, forecasts, t0, steps),
        baseline_rmse=_step_rmse(y, baseline, t0, steps),
    )


def _published(result: _Backtest | None) -> tuple[float | None, float | None, int]:
    if result is None:
        return None, None, 0
    return result.mase, result.baseline_mase, result.origins


def backtest(
    counts: Iterable[float], method: str, horizon: int = 12, season: int = 12
) -> tuple[float | None, float | None, int]:
    """Rolling-origin backtest of `method` and of seasonal naive on the same origins:
    (mase, baseline_mase, origins). MASEs are None when the series is too short to hold
    an origin or when the training part never changes (a zero scale)."""
    y = validated_counts(counts)
    horizon = validated_int("horizon", horizon, 1, MAX_HORIZON)
    season = validated_int("season", season, MIN_SEASON, MAX_SEASON)
    if method not in METHODS or method == "none":
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS[:-1])}")
    return _published(_backtest(y, method, horizon, season))


# --- choice -----------------------------------------------------------------------------


def _zero_share(y: FloatArray) -> float:
    return float(np.mean(y == 0)) if len(y) else 0.0


def _active_part(y: FloatArray, season: int) -> tuple[FloatArray, int]:
    """A series that is mostly zero only because the category started late (a season or
    more of nothing, then counts in most months) is forecast from its first event on."""
    if _zero_share(y) < SPARSE_ZERO_SHARE or not np.any(y > 0):
        return y, 0
    first = int(np.flatnonzero(y)[0])
    tail = y[first:]
    if first >= season and len(tail) >= MIN_MONTHS_SEASONAL and _zero_share(tail) < 0.5:
        return tail, first
    return y, 0


def _yearly_scale(n: int, method: str, season: int) -> bool:
    """Whether the MASE scale is the year-on-year change (else month to month)."""
    return _first_origin(n, method, season) > season


def _trust(
    mase: float | None,
    baseline: float | None,
    origins: int,
    translate: Callable[[str], str],
    yearly_scale: bool = True,
) -> str:
    if origins == 0:
        return translate(gettext_noop("it is too short to backtest, so treat it as a rough guide"))
    if mase is None or baseline is None:
        return translate(
            gettext_noop(
                "the months before the backtest never change, so no relative backtest error "
                "can be computed"
            )
        )
    if mase < 0.7:
        verdict = gettext_noop("fairly reliable")
    elif mase < 1.2:
        verdict = gettext_noop("a trend to read, not a promise")
    else:
        verdict = gettext_noop("a rough guide only")
    template = (
        gettext_noop(
            "over %(origins)d backtest origins its error was %(mase)s times the typical "
            "year-on-year change (same month last year: %(baseline)s), so it is %(verdict)s"
        )
        if yearly_scale
        else gettext_noop(
            "over %(origins)d backtest origins its error was %(mase)s times the typical "
            "month-to-month change (same month last year: %(baseline)s), so it is %(verdict)s"
        )
    )
    return translate(template) % {
        "origins": origins,
        "mase": f"{mase:.2f}",
        "baseline": f"{baseline:.2f}",
        "verdict": translate(verdict),
    }


def _result(
    method: str,
    prediction: Prediction,
    horizon: int,
    note: str,
    translate: Callable[[str], str],
    backtested: tuple[float | None, float | None, int] = (None, None, 0),
) -> Forecast:
    return Forecast(
        method=method,
        method_label=translate(METHOD_LABELS[method]),
        horizon=horizon,
        point=prediction.point,
        lower80=prediction.lower80,
        upper80=prediction.upper80,
        lower95=prediction.lower95,
        upper95=prediction.upper95,
        mase=backtested[0],
        baseline_mase=backtested[1],
        backtest_origins=backtested[2],
        note=note,
    )


def forecast(
    counts: Iterable[float],
    horizon: int = 12,
    season: int = 12,
    *,
    translate: Callable[[str], str] = gettext_noop,
) -> Forecast:
    """The forecast of the next `horizon` months of a monthly count series (oldest first),
    by the method the module docstring describes. Pass Django's gettext as `translate` to
    get the label and note in the user's language."""
    y = validated_counts(counts)
    horizon = validated_int("horizon", horizon, 1, MAX_HORIZON)
    season = validated_int("season", season, MIN_SEASON, MAX_SEASON)
    n = len(y)
    if n == 0:
        note = translate(gettext_noop("There is no history yet, so there is nothing to forecast."))
        return _result(
            "none",
            normal_prediction(np.zeros(horizon), np.zeros(horizon)),
            horizon,
            note,
            translate,
        )
    if not np.any(y > 0):
        note = translate(
            gettext_noop(
                "No events in %(months)d months: the forecast is zero, and the upper bound is "
                "what a rate that low could still produce."
            )
        ) % {"months": n}
        tested = backtest(y, "tsb", horizon, season)
        return _result("tsb", no_events_prediction(n, horizon), horizon, note, translate, tested)
    y, dropped = _active_part(y, season)
    n = len(y)
    started = (
        translate(gettext_noop("The first %(months)d months had no events and are left out. "))
        % {"months": dropped}
        if dropped
        else ""
    )
    if _zero_share(y) >= SPARSE_ZERO_SHARE:
        tested = backtest(y, "tsb", horizon, season)
        note = translate(
            gettext_noop(
                "%(share)d %% of the months had no events, so the forecast is the smoothed "
                "rate of a sparse-count method; %(trust)s."
            )
        ) % {
            "share": round(100 * _zero_share(y)),
            "trust": _trust(*tested, translate, _yearly_scale(n, "tsb", season)),
        }
        return _result("tsb", tsb_prediction(y, horizon), horizon, note, translate, tested)
    if n < MIN_MONTHS_SEASONAL or n < season:
        note = translate(
            gettext_noop(
                "The history is too short to show a season (months so far: %(months)d), so the "
                "forecast is their average with wide intervals; treat it as a rough guide."
            )
        ) % {"months": n}
        return _result("mean", mean_prediction(y, horizon), horizon, started + note, translate)
    if n < max(ETS_MIN_MONTHS, 2 * season):
        naive = _backtest(y, "seasonal-naive", horizon, season)
        tested = _published(naive)
        note = translate(
            gettext_noop(
                "With fewer than %(needed)d months of history the forecast repeats the same "
                "month of last year; %(trust)s."
            )
        ) % {
            "needed": max(ETS_MIN_MONTHS, 2 * season),
            "trust": _trust(*tested, translate, _yearly_scale(n, "seasonal-naive", season)),
        }
        floor = naive.rmse if naive else None
        prediction = seasonal_naive_prediction(y, horizon, season, floor)
        return _result("seasonal-naive", prediction, horizon, started + note, translate, tested)
    return _choose_seasonal(y, horizon, season, started, translate)


def _choose_seasonal(
    y: FloatArray, horizon: int, season: int, started: str, translate: Callable[[str], str]
) -> Forecast:
    tested = _backtest(y, "damped-trend-ets", horizon, season)
    if (
        tested is not None
        and tested.origins >= MIN_ORIGINS_TO_SWITCH
        # A hair's breadth of floating-point noise is not a reason for the complex model.
        and tested.mae < tested.baseline_mae - 1e-9 * (1.0 + tested.baseline_mae)
    ):
        note = translate(
            gettext_noop(
                "Damped-trend smoothing forecast this series better than repeating last year; "
                "%(trust)s."
            )
        ) % {"trust": _trust(*_published(tested), translate)}
        prediction = damped_ets_prediction(y, horizon, season, tested.rmse)
        return _result(
            "damped-trend-ets", prediction, horizon, started + note, translate, _published(tested)
        )
    if tested is None or tested.origins < MIN_ORIGINS_TO_SWITCH:
        why = gettext_noop(
            "Damped-trend smoothing cannot yet be backtested on enough months, so the forecast "
            "repeats the same month of last year; %(trust)s."
        )
        # Seasonal naive needs less training, so its own backtest has more origins.
        tested = _backtest(y, "seasonal-naive", horizon, season)
        yearly = _yearly_scale(len(y), "seasonal-naive", season)
    else:
        why = gettext_noop(
            "Repeating the same month of last year forecast this series at least as well as "
            "damped-trend smoothing; %(trust)s."
        )
        yearly = True  # the ETS origins start after two seasons
    # Seasonal naive's own figures: in the ETS backtest they are the baseline's.
    _, mase, origins = _published(tested)
    note = translate(why) % {"trust": _trust(mase, mase, origins, translate, yearly)}
    floor = tested.baseline_rmse if tested else None
    prediction = seasonal_naive_prediction(y, horizon, season, floor)
    return _result(
        "seasonal-naive", prediction, horizon, started + note, translate, (mase, mase, origins)
    )


# The methods are re-exported: callers use this module alone.
__all__ = [
    "MAX_COUNT",
    "MAX_HORIZON",
    "MAX_MONTHS",
    "METHODS",
    "METHOD_LABELS",
    "Forecast",
    "Prediction",
    "backtest",
    "damped_ets",
    "forecast",
    "seasonal_naive",
    "tsb",
]
