"""The sensitivities' intervals (Student t over the foundations) and the Benjamini-Hochberg
correction, against values computed by hand."""

import math

import numpy as np
import pytest

from doit_study.analysis.intervals import benjamini_hochberg, between_units, t_interval, within_units

T_975_DF1 = 12.706204736174705  # Student t quantiles, from tables
T_975_DF4 = 2.7764451051977987


def test_between_units_is_least_squares_over_foundation_means_with_n_minus_2_degrees_of_freedom():
    xs = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]  # three sizes, two foundations each
    ys = [0.10, 0.20, 0.25, 0.30, 0.50, 0.45]
    x, y = np.asarray(xs), np.asarray(ys)
    sxx = np.sum((x - x.mean()) ** 2)
    slope = np.sum((x - x.mean()) * (y - y.mean())) / sxx
    residuals = y - (y.mean() + slope * (x - x.mean()))
    stderr = math.sqrt(np.sum(residuals**2) / (len(xs) - 2) / sxx)
    fit = between_units(xs, ys, 0.95)
    assert fit["defined"] and fit["units"] == 6 and fit["df"] == 4
    assert fit["alpha"] == pytest.approx(slope) == pytest.approx(0.1625)
    assert fit["stderr"] == pytest.approx(stderr)
    assert fit["low"] == pytest.approx(slope - T_975_DF4 * stderr)
    assert fit["high"] == pytest.approx(slope + T_975_DF4 * stderr)
    assert fit["excludes_zero"] and fit["p_value"] < 0.05
    wider = between_units(xs, ys, 0.99)
    assert wider["low"] < fit["low"] and wider["high"] > fit["high"]


def test_within_units_averages_each_foundations_own_slope_with_n_minus_1_degrees_of_freedom():
    xs = [1.0, 2.0, 3.0]
    # foundation a rises by 1 per unit, b by 3, and b sits far above a: the levels do not enter
    curves = {"a": (xs, [1.0, 2.0, 3.0]), "b": (xs, [13.0, 16.0, 19.0])}
    fit = within_units(curves, 0.95)
    # slopes 1 and 3: mean 2, standard error sd / sqrt(2) = sqrt(2) / sqrt(2) = 1, t with 1 df
    assert fit["alpha"] == pytest.approx(2.0) and fit["stderr"] == pytest.approx(1.0) and fit["df"] == 1
    assert (fit["low"], fit["high"]) == (pytest.approx(2 - T_975_DF1), pytest.approx(2 + T_975_DF1))
    # two-sided p of t = 2 with one degree of freedom (Cauchy): 1 - 2 atan(2) / pi
    assert fit["p_value"] == pytest.approx(1 - 2 * math.atan(2) / math.pi)
    assert not fit["excludes_zero"]


def test_too_few_foundations_or_values_are_undetermined_with_the_reason():
    two = between_units([1.0, 2.0], [0.1, 0.2], 0.95)
    assert two["undetermined"] and not two["defined"] and "no degree of freedom" in two["reason"]
    same = between_units([1.0, 1.0, 1.0], [0.1, 0.2, 0.3], 0.95)
    assert same["undetermined"] and "fewer than two distinct values" in same["reason"]
    one = within_units({"a": ([1.0, 2.0], [0.1, 0.2])}, 0.95)
    assert one["undetermined"] and "1 foundation" in one["reason"]
    flat_x = within_units({"a": ([1.0, 2.0], [0.1, 0.2]), "b": ([1.0, 1.0], [0.1, 0.2])}, 0.95)
    assert flat_x["undetermined"] and "foundation b" in flat_x["reason"]


@pytest.mark.parametrize("value", [0.25, 0.003, 0.1])
def test_scores_that_never_move_give_no_slope_not_nan_nor_a_rounding_discovery(value):
    """Every foundation at the same score (a set at its chance level): scipy leaves the error of a
    constant fit NaN (for 0.25) or a slope of about 1e-35 with no spread (for 0.003), which the
    correction cannot read or reads as a certain effect. Both must be no effect."""
    sizes = [12.7, 12.7, 14.2, 14.2, 15.2, 15.2]
    between = between_units(sizes, [value] * 6, 0.95)
    volumes = list(np.log([40.0, 160.0, 640.0]))
    within = within_units({f: (volumes, [value] * 3) for f in ("a", "b", "c")}, 0.95)
    for fit in (between, within):
        assert fit["defined"] and fit["alpha"] == 0.0 and fit["p_value"] == 1.0
        assert (fit["low"], fit["high"]) == (0.0, 0.0) and not fit["excludes_zero"]


def test_t_interval_without_spread_is_certain_only_about_a_nonzero_estimate():
    assert t_interval(0.0, 0.0, 3, 0.95)["p_value"] == 1.0
    exact = t_interval(0.2, 0.0, 3, 0.95)
    assert exact["p_value"] == 0.0 and exact["excludes_zero"] and exact["low"] == exact["high"] == 0.2


def test_benjamini_hochberg_matches_the_adjusted_values_by_hand():
    p = {"e": 0.9, "b": 0.03, "a": 0.001, "d": 0.3, "c": 0.032}
    # sorted a, b, c, d, e (m = 5): p * m / rank = 0.005, 0.075, 0.0533, 0.375, 0.9; adjusted is
    # the running minimum from the largest: 0.005, 0.0533, 0.0533, 0.375, 0.9
    expected = {"a": 0.005, "b": 0.032 * 5 / 3, "c": 0.032 * 5 / 3, "d": 0.375, "e": 0.9}
    found = benjamini_hochberg(p, 0.05)
    assert {n: f["p_adjusted"] for n, f in found.items()} == pytest.approx(expected)
    assert {n for n, f in found.items() if f["discovery"]} == {"a"}
    # at q = 0.06 the step-up takes b with c, though b's own p * m / rank (0.075) is above q
    assert {n for n, f in benjamini_hochberg(p, 0.06).items() if f["discovery"]} == {"a", "b", "c"}
    # raw p < 0.05 would have called b and c effects: the correction is what keeps them out
    assert sum(v < 0.05 for v in p.values()) == 3
    assert benjamini_hochberg({}, 0.05) == {}
