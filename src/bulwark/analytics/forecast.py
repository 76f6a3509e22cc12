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

Labels and notes are English and marked for the translation catalogue; pass Django's
`gettext` as `forecast(..., translate=gettext)` to get them in the user's language.
"""

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass
from itertools import islice

import numpy as np
from scipy import optimize, stats  # type: ignore[import-untyped]

MAX_MONTHS = 600  # fifty years of history; anything longer is a mistake upstream
MAX_COUNT = 1e12  # beyond this squares overflow long before a CERT sees that many events
MAX_HORIZON = 60
MIN_SEASON, MAX_SEASON = 2, 24
MIN_MONTHS_SEASONAL = 12
ETS_MIN_MONTHS = 24
SPARSE_ZERO_SHARE = 0.5
BACKTEST_MAX_ORIGINS = 36
BACKTEST_MAX_STEPS = 12
MIN_ORIGINS_TO_SWITCH = 6
MIN_ERRORS_PER_STEP = 6
TSB_SSE_TOLERANCE = 0.02

Z80 = float(stats.norm.ppf(0.90))
Z95 = float(stats.norm.ppf(0.975))
METHODS = ("seasonal-naive", "damped-trend-ets", "tsb", "naive", "mean", "none")

FloatArray = np.ndarray


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
class Prediction:
    """Point forecasts and central 80 % / 95 % intervals, one value per month ahead,
    all >= 0 and ordered lower95 <= lower80 <= point <= upper80 <= upper95."""

    point: tuple[float, ...]
    lower80: tuple[float, ...]
    upper80: tuple[float, ...]
    lower95: tuple[float, ...]
    upper95: tuple[float, ...]


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


# --- input ------------------------------------------------------------------------------


def _validated_counts(counts: Iterable[float]) -> FloatArray:
    if (
        isinstance(counts, str | bytes | bytearray | Mapping | Set)
        or not isinstance(counts, Iterable)
        or (isinstance(counts, np.ndarray) and counts.ndim != 1)
    ):
        raise ValueError("counts must be a list of monthly counts (numbers), oldest first")
    values = list(islice(counts, MAX_MONTHS + 1))
    if len(values) > MAX_MONTHS:
        raise ValueError(f"counts holds more than {MAX_MONTHS} months; send at most {MAX_MONTHS}")
    for month, value in enumerate(values, start=1):
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
            raise ValueError(f"month {month}: {value!r} is not a number")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"month {month}: {value!r} is not a finite number")
        if number < 0:
            raise ValueError(f"month {month}: {value!r} is negative; a count cannot be")
        if number > MAX_COUNT:
            raise ValueError(f"month {month}: {value!r} is larger than {MAX_COUNT:.0e}")
    return np.asarray(values, dtype=float)


def _validated_int(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be between {low} and {high}, not {value}")
    return int(value)


# --- intervals --------------------------------------------------------------------------


def _normal_prediction(mean: FloatArray, sd: FloatArray) -> Prediction:
    """Gaussian intervals around `mean`, everything clipped at zero (counts)."""

    def clip(values: FloatArray) -> tuple[float, ...]:
        return tuple(float(v) for v in np.maximum(values, 0.0))

    return Prediction(
        point=clip(mean),
        lower80=clip(mean - Z80 * sd),
        upper80=clip(mean + Z80 * sd),
        lower95=clip(mean - Z95 * sd),
        upper95=clip(mean + Z95 * sd),
    )


def _count_prediction(rate: float, dispersion: float, horizon: int) -> Prediction:
    """Quantiles of a count distribution with mean `rate`: Poisson, or negative binomial
    with variance `dispersion` * rate when the history is over-dispersed. The 95 % upper
    bound is at least one: no history of a rare event can rule the next one out."""
    rate = max(rate, 0.0)
    low95 = low80 = up80 = up95 = 0.0
    if rate > 0.0:
        dist = (
            stats.nbinom(rate / (dispersion - 1.0), 1.0 / dispersion)
            if dispersion > 1.05
            else stats.poisson(rate)
        )
        low95, low80, up80, up95 = (float(q) for q in dist.ppf([0.025, 0.10, 0.90, 0.975]))
    # The quantiles are whole counts; the mean usually is not: keep it inside both bands.
    low80 = min(low80, rate)
    low95 = min(low95, low80)
    up80 = max(up80, rate)
    up95 = max(up95, up80, 1.0)
    return Prediction(
        point=(rate,) * horizon,
        lower80=(low80,) * horizon,
        upper80=(up80,) * horizon,
        lower95=(low95,) * horizon,
        upper95=(up95,) * horizon,
    )


def _no_events_prediction(months: int, horizon: int) -> Prediction:
    """Zero events in `months` months: the rate is below -ln(0.05)/months with 95 %
    confidence (the rule of three); its Poisson quantile bounds a future month."""
    rate95 = -math.log(0.05) / months
    rate80 = -math.log(0.20) / months
    up80 = float(stats.poisson(rate80).ppf(0.90))
    up95 = max(float(stats.poisson(rate95).ppf(0.975)), up80, 1.0)
    zeros = (0.0,) * horizon
    return Prediction(zeros, zeros, (up80,) * horizon, zeros, (up95,) * horizon)


# --- methods ----------------------------------------------------------------------------


def _floored(sd: FloatArray, floor: FloatArray | None) -> FloatArray:
    """The model's own sd raised, step by step, to the error the backtest actually saw
    (its RMSE at that step): analytic intervals ignore parameter uncertainty and
    misfit, and would otherwise promise more than the method delivered on this series.
    Past the last measured step the floor grows as the model's own sd does; and as a
    month further ahead is never easier, the floor never shrinks from one step to the next."""
    if floor is None or len(floor) == 0:
        return sd
    floor = np.fmax.accumulate(floor)  # fmax: an unmeasured (NaN) step keeps the floor
    out = sd.copy()
    for h in range(len(sd)):
        j = min(h, len(floor) - 1)
        bound = float(floor[j])
        if not math.isfinite(bound):
            continue
        if h > j and sd[j] > 0:
            bound *= float(sd[h] / sd[j])
        out[h] = max(float(sd[h]), bound)
    return out


def _seasonal_naive(
    y: FloatArray, horizon: int, season: int, floor: FloatArray | None = None
) -> Prediction:
    steps = np.arange(horizon)
    point = y[len(y) - season :][steps % season]
    diffs = y[season:] - y[:-season]
    sigma = float(np.sqrt(np.mean(diffs**2))) if len(diffs) else 0.0
    if len(diffs) < season:
        # Too few year-on-year differences to trust their spread: never narrower than
        # the difference of two Poisson counts at this level, nor than the series' spread.
        sigma = max(sigma, math.sqrt(2.0 * float(np.mean(y))), math.sqrt(2.0) * float(np.std(y)))
    sd = sigma * np.sqrt(steps // season + 1.0)
    return _normal_prediction(point, _floored(sd, floor))


def _mean_forecast(y: FloatArray, horizon: int) -> Prediction:
    n = len(y)
    level = float(np.mean(y))
    spread = float(np.std(y, ddof=1)) if n > 1 else 0.0
    sd = max(spread, math.sqrt(level)) * math.sqrt(1.0 + 1.0 / n)
    return _normal_prediction(np.full(horizon, level), np.full(horizon, sd))


def seasonal_naive(counts: Iterable[float], horizon: int = 12, season: int = 12) -> Prediction:
    """Each month ahead repeats the same month of the last season (season=1 gives the naive
    forecast). Intervals: residual sd of lag-`season` differences times sqrt(k + 1), k the
    number of whole seasons ahead."""
    y = _validated_counts(counts)
    horizon = _validated_int("horizon", horizon, 1, MAX_HORIZON)
    season = _validated_int("season", season, 1, MAX_SEASON)
    if len(y) < season:
        raise ValueError(f"seasonal naive needs at least {season} months, got {len(y)}")
    return _seasonal_naive(y, horizon, season)


@dataclass(frozen=True)
class _Ets:
    alpha: float
    beta: float
    gamma: float
    phi: float
    level: float
    trend: float
    seasonal: tuple[float, ...]  # ring indexed by month number % season


def _ets_initial(y: FloatArray, season: int) -> tuple[float, float, list[float]]:
    """Level, trend and seasonal indices from the first two seasons (the usual heuristic:
    trend from the change of the seasonal means, seasonality from the detrended months)."""
    first, second = y[:season].mean(), y[season : 2 * season].mean()
    trend = float(second - first) / season
    line = first + (np.arange(2 * season) - (season - 1) / 2) * trend
    deviation = (y[: 2 * season] - line).reshape(2, season).mean(axis=0)
    seasonal = [float(v) for v in deviation - deviation.mean()]
    level = float(first) - ((season - 1) / 2 + 1) * trend  # one month before the first
    return level, trend, seasonal


def _ets_sse(
    theta: FloatArray, y: list[float], start: tuple[float, float, list[float]]
) -> tuple[float, FloatArray]:
    """In-sample one-step SSE and its exact gradient in theta. Each state carries its four
    derivatives along (forward mode), so the optimiser needs one pass instead of five
    for finite differences: this is what keeps a dashboard of categories fast."""
    alpha, bstar, gstar, phi = (float(v) for v in theta)
    beta, gamma = alpha * bstar, (1.0 - alpha) * gstar
    level, trend, seasonal = start[0], start[1], list(start[2])
    season = len(seasonal)
    # d(state)/d(alpha, beta*, gamma*, phi); the initial states do not depend on theta.
    la = lb = lg = lp = ba = bb = bg = bp = 0.0
    sa, sb, sg, sp = [0.0] * season, [0.0] * season, [0.0] * season, [0.0] * season
    sse = ga = gb = gg = gp = 0.0
    for t, value in enumerate(y):
        i = t % season
        base = level + phi * trend
        xa, xb, xg, xp = la + phi * ba, lb + phi * bb, lg + phi * bg, lp + phi * bp + trend
        error = value - base - seasonal[i]
        ea, eb, eg, ep = -xa - sa[i], -xb - sb[i], -xg - sg[i], -xp - sp[i]
        sse += error * error
        ga, gb, gg, gp = ga + error * ea, gb + error * eb, gg + error * eg, gp + error * ep
        level = base + alpha * error
        la, lb, lg, lp = xa + alpha * ea + error, xb + alpha * eb, xg + alpha * eg, xp + alpha * ep
        ba, bb, bg, bp = (
            phi * ba + beta * ea + error * bstar,
            phi * bb + beta * eb + error * alpha,
            phi * bg + beta * eg,
            phi * bp + trend + beta * ep,
        )
        trend = phi * trend + beta * error
        seasonal[i] += gamma * error
        sa[i] += gamma * ea - error * gstar
        sb[i] += gamma * eb
        sg[i] += gamma * eg + error * (1.0 - alpha)
        sp[i] += gamma * ep
    gradient = np.array([ga, gb, gg, gp]) * 2.0
    if not (math.isfinite(sse) and np.all(np.isfinite(gradient))):
        return 1e300, np.zeros(4)
    return sse, gradient


def _ets_weights(theta: FloatArray) -> tuple[float, float, float, float]:
    """theta holds alpha, beta/alpha, gamma/(1 - alpha), phi: box bounds on theta keep
    0 < beta <= alpha and 0 <= gamma <= 1 - alpha, the usual admissible region."""
    alpha = float(theta[0])
    return alpha, alpha * float(theta[1]), (1.0 - alpha) * float(theta[2]), float(theta[3])


_ETS_BOUNDS = [(1e-3, 0.999), (1e-3, 0.999), (0.0, 0.999), (0.80, 0.98)]
_ETS_START = np.array([0.3, 0.1, 0.1, 0.95])


def _ets_fit(y: FloatArray, season: int) -> _Ets:
    """Smoothing weights by minimising the in-sample one-step SSE from the heuristic
    initial states, which are kept as they are (fewer parameters, faster fit). TNC rather
    than L-BFGS-B: both reach the same optimum, but L-BFGS-B calls OpenBLAS, whose threads
    spin against each other on a busy machine and made a fit take 10 times longer."""
    start = _ets_initial(y, season)
    values = [float(v) for v in y]
    result = optimize.minimize(
        _ets_sse,
        _ETS_START,
        args=(values, start),
        jac=True,
        method="TNC",
        bounds=_ETS_BOUNDS,
        options={"maxfun": 200},
    )
    theta = result.x if math.isfinite(result.fun) else _ETS_START
    alpha, beta, gamma, phi = _ets_weights(theta)
    level, trend, seasonal = start
    return _Ets(alpha, beta, gamma, phi, level, trend, tuple(seasonal))


def _ets_run(
    model: _Ets, y: FloatArray, origin_from: int, steps: int
) -> tuple[float, float, float, list[float], list[FloatArray]]:
    """Filter the whole series with fixed weights. Returns the SSE, the final level, trend
    and seasonal ring, and for each origin t >= origin_from the forecasts of months
    t .. t+steps-1 made from the states after month t-1 (clipped to the series end)."""
    level, trend, seasonal = model.level, model.trend, list(model.seasonal)
    season, phi, n = len(seasonal), model.phi, len(y)
    damping = np.cumsum(phi ** np.arange(1, steps + 1))
    forecasts: list[FloatArray] = []
    sse = 0.0
    for t in range(n + 1):
        if origin_from <= t < n:
            ahead = min(steps, n - t)
            months = (t + np.arange(ahead)) % season
            forecasts.append(level + damping[:ahead] * trend + np.asarray(seasonal)[months])
        if t == n:
            break
        i = t % season
        base = level + phi * trend
        error = float(y[t]) - base - seasonal[i]
        sse += error * error
        level = base + model.alpha * error
        trend = phi * trend + model.beta * error
        seasonal[i] += model.gamma * error
    return sse, level, trend, seasonal, forecasts


def _damped_ets(
    y: FloatArray, horizon: int, season: int, floor: FloatArray | None = None
) -> Prediction:
    model = _ets_fit(y, season)
    sse, level, trend, seasonal, _ = _ets_run(model, y, len(y), 0)
    n = len(y)
    sigma2 = sse / max(n - 4, 1)
    phi = model.phi
    damping = np.cumsum(phi ** np.arange(1, horizon + 1))
    months = (n + np.arange(horizon)) % season
    point = level + damping * trend + np.asarray(seasonal)[months]
    # Hyndman et al. (2008), class 1, ETS(A,Ad,A): v_h = sigma^2 (1 + sum_{j<h} c_j^2),
    # c_j = alpha + beta * (phi + ... + phi^j) + gamma * [j is a multiple of season].
    j = np.arange(1, horizon)
    c = model.alpha + model.beta * damping[: horizon - 1] + model.gamma * (j % season == 0)
    variance = sigma2 * (1.0 + np.concatenate(([0.0], np.cumsum(c**2))))
    return _normal_prediction(point, _floored(np.sqrt(variance), floor))


def damped_ets(counts: Iterable[float], horizon: int = 12, season: int = 12) -> Prediction:
    """Additive-error, damped additive trend, additive seasonality exponential smoothing
    (ETS(A,Ad,A)) with the analytic prediction intervals of Hyndman et al. (2008); unlike
    `forecast`, no widening to backtest errors."""
    y = _validated_counts(counts)
    horizon = _validated_int("horizon", horizon, 1, MAX_HORIZON)
    season = _validated_int("season", season, MIN_SEASON, MAX_SEASON)
    if len(y) < 2 * season:
        raise ValueError(f"damped-trend smoothing needs at least {2 * season} months")
    return _damped_ets(y, horizon, season)


_TSB_GRID = np.array([0.01, 0.02, 0.05, 0.1, 0.2])


@dataclass(frozen=True)
class _Tsb:
    alpha: float  # size smoothing, updated in months with events
    beta: float  # probability smoothing, updated every month
    probability: float
    size: float


def _tsb_fit(y: FloatArray) -> _Tsb:
    """Both weights from a small grid by in-sample one-step SSE, all pairs at once."""
    events = y[y > 0]
    probability = len(events) / len(y) if len(y) else 0.0
    size = float(events.mean()) if len(events) else 1.0
    alpha, beta = (grid.ravel() for grid in np.meshgrid(_TSB_GRID, _TSB_GRID))
    p, z = np.full(alpha.shape, probability), np.full(alpha.shape, size)
    sse = np.zeros(alpha.shape)
    for value in y:
        sse += (value - p * z) ** 2
        if value > 0:
            p += beta * (1.0 - p)
            z += alpha * (value - z)
        else:
            p -= beta * p
    # Among weights within TSB_SSE_TOLERANCE of the best fit, the smoothest: on a few
    # dozen sparse months the SSE differences are mostly noise, and chasing them makes the
    # rate follow the last few events.
    near = np.flatnonzero(sse <= sse.min() * (1.0 + TSB_SSE_TOLERANCE))
    best = int(near[np.argmin((alpha + beta)[near])])
    return _Tsb(float(alpha[best]), float(beta[best]), probability, size)


def _tsb_run(model: _Tsb, y: FloatArray) -> list[float]:
    """Forecast (probability x size) made before each month, plus one after the last."""
    p, z = model.probability, model.size
    rates = []
    for value in y:
        rates.append(p * z)
        if value > 0:
            p += model.beta * (1.0 - p)
            z += model.alpha * (float(value) - z)
        else:
            p -= model.beta * p
    rates.append(p * z)
    return rates


def _dispersion(y: FloatArray) -> float:
    mean = float(np.mean(y)) if len(y) else 0.0
    if len(y) < 2 or mean == 0.0:
        return 1.0
    return float(np.var(y, ddof=1)) / mean


def _tsb(y: FloatArray, horizon: int) -> Prediction:
    if not np.any(y > 0):
        return _no_events_prediction(len(y), horizon)
    rate = _tsb_run(_tsb_fit(y), y)[-1]
    return _count_prediction(rate, _dispersion(y), horizon)


def tsb(counts: Iterable[float], horizon: int = 12) -> Prediction:
    """Teunter-Syntetos-Babai smoothing for sparse counts: the chance of any event and the
    size of a month with events are smoothed separately; the forecast is their product,
    flat over the horizon, with Poisson or negative-binomial quantiles as intervals."""
    y = _validated_counts(counts)
    horizon = _validated_int("horizon", horizon, 1, MAX_HORIZON)
    if len(y) == 0:
        raise ValueError("sparse-count smoothing needs at least one month")
    return _tsb(y, horizon)


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
        model = _ets_fit(y[:t0], season)
        return [np.maximum(f, 0.0) for f in _ets_run(model, y, t0, steps)[4]]
    if method == "tsb":
        rates = _tsb_run(_tsb_fit(y[:t0]), y)
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
    y = _validated_counts(counts)
    horizon = _validated_int("horizon", horizon, 1, MAX_HORIZON)
    season = _validated_int("season", season, MIN_SEASON, MAX_SEASON)
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
    y = _validated_counts(counts)
    horizon = _validated_int("horizon", horizon, 1, MAX_HORIZON)
    season = _validated_int("season", season, MIN_SEASON, MAX_SEASON)
    n = len(y)
    if n == 0:
        note = translate(gettext_noop("There is no history yet, so there is nothing to forecast."))
        return _result(
            "none",
            _normal_prediction(np.zeros(horizon), np.zeros(horizon)),
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
        return _result("tsb", _no_events_prediction(n, horizon), horizon, note, translate, tested)
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
        return _result("tsb", _tsb(y, horizon), horizon, note, translate, tested)
    if n < MIN_MONTHS_SEASONAL or n < season:
        note = translate(
            gettext_noop(
                "The history is too short to show a season (months so far: %(months)d), so the "
                "forecast is their average with wide intervals; treat it as a rough guide."
            )
        ) % {"months": n}
        return _result("mean", _mean_forecast(y, horizon), horizon, started + note, translate)
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
        prediction = _seasonal_naive(y, horizon, season, floor)
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
        prediction = _damped_ets(y, horizon, season, tested.rmse)
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
    prediction = _seasonal_naive(y, horizon, season, floor)
    return _result(
        "seasonal-naive", prediction, horizon, started + note, translate, (mase, mase, origins)
    )
