"""The forecasting module on synthetic series whose answer is known."""

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulwark.analytics.forecast import (
    MAX_MONTHS,
    METHODS,
    Forecast,
    Prediction,
    backtest,
    damped_ets,
    forecast,
    seasonal_naive,
    tsb,
)


def trend_seasonal(months: int, seed: int = 7) -> list[float]:
    """50 + 0.8 t + 15 sin(2 pi t / 12) + noise with sd 3: a growing, seasonal category."""
    t = np.arange(months)
    noise = np.random.default_rng(seed).normal(0.0, 3.0, months)
    return list(50 + 0.8 * t + 15 * np.sin(2 * np.pi * t / 12) + noise)


def assert_well_formed(result: Forecast, horizon: int) -> None:
    bands = (result.lower95, result.lower80, result.point, result.upper80, result.upper95)
    for band in bands:
        assert len(band) == horizon
        assert all(math.isfinite(v) and v >= 0 for v in band)
    for low95, low80, point, up80, up95 in zip(*bands, strict=True):
        assert low95 <= low80 <= point <= up80 <= up95
    assert result.method in METHODS
    assert result.method_label and result.note


def test_trend_seasonal_series_chooses_damped_ets_which_beats_seasonal_naive() -> None:
    counts = trend_seasonal(60)
    result = forecast(counts)

    assert result.method == "damped-trend-ets"
    assert result.mase is not None and result.baseline_mase is not None
    assert result.mase < result.baseline_mase
    assert result.backtest_origins == 36
    # The published figures are the backtest's own.
    assert backtest(counts, "damped-trend-ets") == (
        result.mase,
        result.baseline_mase,
        result.backtest_origins,
    )
    # Month 61 is really about 50 + 0.8 * 60 = 98; seasonal naive would say about 88.
    assert result.point[0] == pytest.approx(98, abs=6)
    assert result.lower95[0] < 98 < result.upper95[0]
    # Uncertainty never shrinks with the horizon, and a year out it is clearly wider.
    widths = np.subtract(result.upper95, result.lower95)
    assert np.all(np.diff(widths) >= 0)
    assert widths[-1] > 1.2 * widths[0]
    assert "better than repeating last year" in result.note


def test_pure_seasonal_series_repeats_its_last_season() -> None:
    t = np.arange(48)
    counts = list(100 + 20 * np.sin(2 * np.pi * t / 12) + 5 * np.cos(4 * np.pi * t / 12))
    result = forecast(counts, horizon=24)

    assert result.method in ("seasonal-naive", "damped-trend-ets")
    np.testing.assert_allclose(result.point, counts[-12:] * 2, atol=1e-6)
    np.testing.assert_allclose(damped_ets(counts, 12).point, counts[-12:], atol=1e-6)


def test_constant_series_forecasts_the_constant_with_narrow_intervals() -> None:
    result = forecast([7] * 36, horizon=3)

    assert result.point == pytest.approx((7, 7, 7))
    assert max(np.subtract(result.upper95, result.lower95)) < 0.5
    # Nothing varies, so no relative error exists; the note says so instead of "inf".
    assert result.mase is None
    assert "no relative backtest error" in result.note


@pytest.mark.parametrize("months", [1, 3, 24, 120, MAX_MONTHS])
def test_all_zero_series_forecasts_zero_with_a_small_upper_bound(months: int) -> None:
    result = forecast([0] * months, horizon=3)

    assert result.method == "tsb"
    assert result.point == (0.0, 0.0, 0.0)
    assert result.lower95 == (0.0, 0.0, 0.0)
    assert all(0 < up <= (3 if months >= 3 else 10) for up in result.upper95)
    assert f"No events in {months} months" in result.note


def test_all_zero_upper_bound_follows_the_rule_of_three() -> None:
    # Rate below 3/24 = 0.125 a month: at most one event in a month (Poisson 97.5 %);
    # at the 80 % level, none.
    result = forecast([0] * 24, horizon=1)
    assert result.upper95 == (1.0,)
    assert result.upper80 == (0.0,)


def test_sparse_series_uses_the_sparse_method_at_the_mean_rate() -> None:
    # Ten years, 80 % of the months empty, the others one or two events, in random order.
    rng = np.random.default_rng(0)
    counts = rng.permutation([0] * 96 + list(rng.integers(1, 3, 24)))
    rate = counts.mean()

    result = forecast(counts.tolist())

    assert result.method == "tsb"
    assert result.point[0] == pytest.approx(rate, rel=0.25)
    assert result.upper95[0] >= 1
    assert result.lower95[0] == 0
    assert "had no events" in result.note


def test_sparse_method_follows_a_category_that_went_quiet() -> None:
    rng = np.random.default_rng(0)
    counts = np.where(rng.random(120) < 0.7, 0, rng.integers(1, 3, 120))
    counts[-36:] = 0
    assert tsb(counts.tolist(), 1).point[0] < 0.5 * counts[:-36].mean()


def test_late_starting_category_is_not_treated_as_sparse() -> None:
    rng = np.random.default_rng(3)
    counts = [0] * 40 + list(rng.poisson(50, 24))

    result = forecast(counts)

    assert result.method in ("seasonal-naive", "damped-trend-ets")
    assert 30 < result.point[0] < 70
    assert "first 40 months had no events" in result.note


def test_empty_history_gives_zeros_and_says_why() -> None:
    result = forecast([], horizon=3)

    assert result.method == "none"
    assert result.point == result.upper95 == (0.0, 0.0, 0.0)
    assert "no history" in result.note
    assert result.mase is None and result.backtest_origins == 0


def test_single_month_gives_that_month_with_wide_intervals() -> None:
    result = forecast([5], horizon=3)

    assert result.method == "mean"
    assert result.point == (5.0, 5.0, 5.0)
    assert result.upper95[0] > 9  # one month says little about the next
    assert result.mase is None and result.backtest_origins == 0
    assert_well_formed(result, 3)


def test_a_year_and_a_half_uses_seasonal_naive_with_a_backtest() -> None:
    counts = trend_seasonal(18)
    result = forecast(counts, horizon=3)

    assert result.method == "seasonal-naive"
    assert result.point == pytest.approx(counts[6:9])
    assert result.backtest_origins == 6
    assert result.mase == result.baseline_mase is not None


def test_two_years_is_too_short_to_trust_damped_trend_smoothing() -> None:
    # ETS needs 24 months of training before its first origin; with 24 months in all it
    # cannot be backtested, so the baseline stands, backtested on its own 12 origins.
    result = forecast(trend_seasonal(24))

    assert result.method == "seasonal-naive"
    assert result.backtest_origins == 12
    assert result.mase is not None and result.mase == result.baseline_mase
    assert "cannot yet be backtested" in result.note


def test_seasonal_naive_interval_widens_by_sqrt_two_after_a_season() -> None:
    # Lag-12 differences are all +2 or -2: residual sd exactly 2.
    counts = [10.0] * 12 + [12.0] * 12 + [10.0] * 12
    result = seasonal_naive(counts, horizon=13)

    width1 = result.upper95[0] - result.point[0]
    width13 = result.upper95[12] - result.point[12]
    assert width1 == pytest.approx(1.959964 * 2.0, rel=1e-5)
    assert width13 == pytest.approx(width1 * math.sqrt(2), rel=1e-9)


def test_one_step_95_percent_intervals_cover_the_truth_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(11)
    months = 300
    t = np.arange(months)
    counts = 200 + 30 * np.sin(2 * np.pi * t / 12) + rng.normal(0.0, 10.0, months)

    origins = range(120, months)

    def covered(prediction: Prediction, truth: float) -> bool:
        return prediction.lower95[0] <= truth <= prediction.upper95[0]

    naive_hits = [covered(seasonal_naive(counts[:o], 1), counts[o]) for o in origins]
    ets_hits = [covered(damped_ets(counts[:o], 1), counts[o]) for o in origins[::3]]

    assert 0.85 <= np.mean(naive_hits) <= 0.99
    assert 0.85 <= np.mean(ets_hits) <= 0.99


def test_a_year_ahead_the_95_percent_interval_still_covers_the_truth() -> None:
    # The class-1 formula alone covered only 75-89 % twelve months ahead on such series
    # (it ignores parameter uncertainty); forecast() widens it to the backtest's errors.
    rng = np.random.default_rng(11)
    months = 300
    t = np.arange(months)
    counts = 200 + 30 * np.sin(2 * np.pi * t / 12) + rng.normal(0.0, 10.0, months)

    hits = []
    for origin in range(120, months - 11, 4):
        result = forecast(counts[:origin].tolist())
        hits.append(result.lower95[11] <= counts[origin + 11] <= result.upper95[11])

    assert 0.85 <= np.mean(hits) <= 0.99


def test_seasonal_naive_stands_where_the_season_itself_drifts() -> None:
    # Each month is last year's plus noise (a seasonal random walk): nothing beats
    # repeating last year, and the figures published are seasonal naive's own.
    rng = np.random.default_rng(0)
    counts = list(rng.normal(100, 20, 12))
    for month in range(12, 60):
        counts.append(max(0.0, counts[month - 12] + rng.normal(0, 8)))

    result = forecast(counts)

    assert result.method == "seasonal-naive"
    assert result.point == pytest.approx(counts[-12:])
    assert (result.mase, result.baseline_mase, result.backtest_origins) == backtest(
        counts, "seasonal-naive"
    )
    assert "at least as well as damped-trend smoothing" in result.note


def test_a_ten_year_series_is_forecast_fast_enough_for_a_dashboard() -> None:
    # Measured on the 2-core dev machine: about 3 ms per call for 120 months, well under
    # the 150 ms budget per category; best of five to keep a busy machine from failing it.
    counts = trend_seasonal(120)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        forecast(counts)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.150


def test_translate_is_applied_to_label_and_note() -> None:
    catalogue = {
        "Average of the months so far": "至今各月平均",
        "The history is too short to show a season (months so far: %(months)d), so the "
        "forecast is their average with wide intervals; treat it as a rough guide.": (
            "歷史僅 %(months)d 個月。"
        ),
    }
    result = forecast([4, 6], translate=lambda s: catalogue.get(s, s))

    assert result.method_label == "至今各月平均"
    assert result.note == "歷史僅 2 個月。"


def test_backtest_reports_nothing_for_too_short_a_series() -> None:
    assert backtest([3, 4, 5], "seasonal-naive") == (None, None, 0)
    assert backtest(trend_seasonal(30), "damped-trend-ets")[2] == 6


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ([1, -1, 2], "month 2: -1 is negative"),
        ([1, float("nan")], "month 2: nan is not a finite number"),
        ([float("inf")], "not a finite number"),
        ([1, "3"], "month 2: '3' is not a number"),
        ([None], "is not a number"),
        ([True, 2], "month 1: True is not a number"),
        ([[1, 2]], "is not a number"),
        ("1234", "list of monthly counts"),
        ({1: 2}, "list of monthly counts"),
        (42, "list of monthly counts"),
        ([0] * (MAX_MONTHS + 1), f"more than {MAX_MONTHS} months"),
        ([1e300], "larger than"),
    ],
)
def test_bad_counts_are_refused_with_a_clear_message(counts: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        forecast(counts)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 0}, "horizon must be between 1 and 60"),
        ({"horizon": 61}, "horizon must be between"),
        ({"horizon": 1.5}, "horizon must be a whole number"),
        ({"season": 1}, "season must be between 2 and 24"),
        ({"season": True}, "season must be a whole number"),
    ],
)
def test_bad_horizon_or_season_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        forecast([1, 2, 3], **kwargs)  # type: ignore[arg-type]


def test_individual_methods_refuse_too_short_a_history() -> None:
    with pytest.raises(ValueError, match="at least 12 months"):
        seasonal_naive([1, 2, 3])
    with pytest.raises(ValueError, match="at least 24 months"):
        damped_ets(list(range(20)))
    with pytest.raises(ValueError, match="at least one month"):
        tsb([])
    with pytest.raises(ValueError, match="unknown method"):
        backtest([1, 2, 3], "prophet")


monthly_counts = st.lists(
    st.one_of(st.just(0), st.integers(0, 3), st.integers(0, 5000)), max_size=150
)


@settings(max_examples=50, deadline=None)
@given(counts=monthly_counts, horizon=st.integers(1, 24))
def test_any_history_gives_ordered_non_negative_intervals(counts: list[int], horizon: int) -> None:
    result = forecast(counts, horizon=horizon)

    assert_well_formed(result, horizon)
    assert result.horizon == horizon
    if result.mase is not None:
        assert result.mase >= 0 and result.backtest_origins > 0


@settings(max_examples=50, deadline=None)
@given(
    counts=st.lists(st.floats(0, 1e6, allow_nan=False), min_size=24, max_size=80),
    horizon=st.integers(1, 24),
)
def test_each_method_gives_ordered_non_negative_intervals(
    counts: list[float], horizon: int
) -> None:
    for prediction in (
        seasonal_naive(counts, horizon),
        damped_ets(counts, horizon),
        tsb(counts, horizon),
    ):
        bands = (
            prediction.lower95,
            prediction.lower80,
            prediction.point,
            prediction.upper80,
            prediction.upper95,
        )
        for low95, low80, point, up80, up95 in zip(*bands, strict=True):
            assert 0 <= low95 <= low80 <= point <= up80 <= up95
            assert math.isfinite(up95)
