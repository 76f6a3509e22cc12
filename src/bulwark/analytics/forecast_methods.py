"""The forecasting methods of `forecast.py` and their intervals: seasonal naive, the
average, damped-trend exponential smoothing ETS(A,Ad,A) and TSB sparse-count smoothing,
each fitted once and then run month by month (so the backtest costs one fit). Pure:
numpy and scipy only, no Django, deterministic."""

import math
import numbers
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from itertools import islice

import numpy as np
from scipy import optimize, stats  # type: ignore[import-untyped]

MAX_MONTHS = 600  # fifty years of history; anything longer is a mistake upstream
MAX_COUNT = 1e12  # beyond this squares overflow long before a CERT sees that many events
MAX_HORIZON = 60
MIN_SEASON, MAX_SEASON = 2, 24


TSB_SSE_TOLERANCE = 0.02

Z80 = float(stats.norm.ppf(0.90))
Z95 = float(stats.norm.ppf(0.975))


FloatArray = np.ndarray


@dataclass(frozen=True)
class Prediction:
    """Point forecasts and central 80 % / 95 % intervals, one value per month ahead,
    all >= 0 and ordered lower95 <= lower80 <= point <= upper80 <= upper95."""

    point: tuple[float, ...]
    lower80: tuple[float, ...]
    upper80: tuple[float, ...]
    lower95: tuple[float, ...]
    upper95: tuple[float, ...]


# --- input ------------------------------------------------------------------------------


def validated_counts(counts: Iterable[float]) -> FloatArray:
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


def validated_int(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be between {low} and {high}, not {value}")
    return int(value)


# --- intervals --------------------------------------------------------------------------


def normal_prediction(mean: FloatArray, sd: FloatArray) -> Prediction:
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


def no_events_prediction(months: int, horizon: int) -> Prediction:
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


def seasonal_naive_prediction(
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
    return normal_prediction(point, _floored(sd, floor))


def mean_prediction(y: FloatArray, horizon: int) -> Prediction:
    n = len(y)
    level = float(np.mean(y))
    spread = float(np.std(y, ddof=1)) if n > 1 else 0.0
    sd = max(spread, math.sqrt(level)) * math.sqrt(1.0 + 1.0 / n)
    return normal_prediction(np.full(horizon, level), np.full(horizon, sd))


def seasonal_naive(counts: Iterable[float], horizon: int = 12, season: int = 12) -> Prediction:
    """Each month ahead repeats the same month of the last season (season=1 gives the naive
    forecast). Intervals: residual sd of lag-`season` differences times sqrt(k + 1), k the
    number of whole seasons ahead."""
    y = validated_counts(counts)
    horizon = validated_int("horizon", horizon, 1, MAX_HORIZON)
    season = validated_int("season", season, 1, MAX_SEASON)
    if len(y) < season:
        raise ValueError(f"seasonal naive needs at least {season} months, got {len(y)}")
    return seasonal_naive_prediction(y, horizon, season)


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


def ets_fit(y: FloatArray, season: int) -> _Ets:
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


def ets_run(
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


def damped_ets_prediction(
    y: FloatArray, horizon: int, season: int, floor: FloatArray | None = None
) -> Prediction:
    model = ets_fit(y, season)
    sse, level, trend, seasonal, _ = ets_run(model, y, len(y), 0)
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
    return normal_prediction(point, _floored(np.sqrt(variance), floor))


def damped_ets(counts: Iterable[float], horizon: int = 12, season: int = 12) -> Prediction:
    """Additive-error, damped additive trend, additive seasonality exponential smoothing
    (ETS(A,Ad,A)) with the analytic prediction intervals of Hyndman et al. (2008); unlike
    `forecast`, no widening to backtest errors."""
    y = validated_counts(counts)
    horizon = validated_int("horizon", horizon, 1, MAX_HORIZON)
    season = validated_int("season", season, MIN_SEASON, MAX_SEASON)
    if len(y) < 2 * season:
        raise ValueError(f"damped-trend smoothing needs at least {2 * season} months")
    return damped_ets_prediction(y, horizon, season)


_TSB_GRID = np.array([0.01, 0.02, 0.05, 0.1, 0.2])


@dataclass(frozen=True)
class _Tsb:
    alpha: float  # size smoothing, updated in months with events
    beta: float  # probability smoothing, updated every month
    probability: float
    size: float


def tsb_fit(y: FloatArray) -> _Tsb:
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


def tsb_run(model: _Tsb, y: FloatArray) -> list[float]:
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


def tsb_prediction(y: FloatArray, horizon: int) -> Prediction:
    if not np.any(y > 0):
        return no_events_prediction(len(y), horizon)
    rate = tsb_run(tsb_fit(y), y)[-1]
    return _count_prediction(rate, _dispersion(y), horizon)


def tsb(counts: Iterable[float], horizon: int = 12) -> Prediction:
    """Teunter-Syntetos-Babai smoothing for sparse counts: the chance of any event and the
    size of a month with events are smoothed separately; the forecast is their product,
    flat over the horizon, with Poisson or negative-binomial quantiles as intervals."""
    y = validated_counts(counts)
    horizon = validated_int("horizon", horizon, 1, MAX_HORIZON)
    if len(y) == 0:
        raise ValueError("sparse-count smoothing needs at least one month")
    return tsb_prediction(y, horizon)
