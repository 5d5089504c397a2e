"""Fits on synthetic inputs with known slopes and the feature formulas on a hand-computed matrix."""

import math

import numpy as np
import pytest

from doit_study.analysis.fits import (
    averaged_curve,
    bootstrap_alpha,
    classify,
    complexity,
    fit_log_linear,
    normalise,
    regression,
    transference,
)


def test_log_linear_fit_recovers_a_known_sensitivity():
    xs = [1e6, 4e6, 16e6, 64e6]
    ys = [0.05 * math.log(x) + 0.05 * -10 for x in xs]
    fit = fit_log_linear(xs, ys)
    assert fit["alpha"] == pytest.approx(0.05) and fit["c"] == pytest.approx(-10)
    assert fit["r2"] == pytest.approx(1.0) and fit["stderr"] == pytest.approx(0, abs=1e-9)


def test_too_few_points_and_constant_scores_are_undefined_not_made_up():
    assert fit_log_linear([7e9, 7e9], [0.1, 0.2]) == {
        "defined": False,
        "reason": "fewer than two distinct scales ([7000000000.0])",
    }
    flat = fit_log_linear([1, 4, 16], [0.3, 0.3, 0.3])
    assert flat["alpha"] == 0.0 and flat["r2"] is None and "constant" in flat["note"]
    assert fit_log_linear([1, 4], [0.1, 0.3])["stderr"] is None  # two points fit exactly
    assert not regression([1, 2], [3, 4])["defined"]
    assert not regression([1, 2, 3], [5, 5, 5])["defined"]


def test_curves_average_over_the_other_factor():
    scores = {(1, 10): 0.1, (1, 40): 0.3, (4, 10): 0.2, (4, 40): 0.6}
    assert averaged_curve(scores, axis=0) == ([1, 4], [pytest.approx(0.2), pytest.approx(0.4)])
    assert averaged_curve(scores, axis=1) == ([10, 40], [pytest.approx(0.15), pytest.approx(0.45)])


def test_bootstrap_interval_contains_the_point_estimate_and_is_seeded():
    correct = {  # one seed per point
        (1, 10): [[True] * 20 + [False] * 80],
        (4, 10): [[True] * 40 + [False] * 60],
        (16, 10): [[True] * 60 + [False] * 40],
    }
    first = bootstrap_alpha(correct, axis=0, replicates=200, seed=1)
    point = fit_log_linear([1, 4, 16], [0.2, 0.4, 0.6])["alpha"]
    assert first["low"] < point < first["high"]
    assert first == bootstrap_alpha(correct, axis=0, replicates=200, seed=1)


def test_seed_noise_widens_the_interval_around_a_known_slope():
    """Scores 0.1 * log(N) + seed noise (SD 0.05) on items that all agree: resampling items alone
    sees no spread, resampling seeds too gives an interval around the true slope."""
    rng = np.random.default_rng(0)
    sizes, true_alpha, n_items = [1, 4, 16, 64], 0.1, 50

    def runs(seeds):
        return {
            (n, 10): [
                np.full(n_items, 0.2 + true_alpha * math.log(n) + rng.normal(0, 0.05)) for _ in range(seeds)
            ]
            for n in sizes
        }

    one = bootstrap_alpha(runs(1), axis=0, replicates=400, seed=0)
    assert one["high"] - one["low"] < 1e-9  # identical items: item resampling cannot see seed noise
    many = bootstrap_alpha(runs(8), axis=0, replicates=400, seed=0)
    assert many["low"] < true_alpha < many["high"]
    assert 0.002 < many["high"] - many["low"] < 0.05  # the spread of slopes from 8 seeds of SD 0.05


ABILITIES = ["a", "b", "c"]
# cross[j][i]: accuracy on i of the model trained on j alone
CROSS = {
    "a": {"a": 0.6, "b": 0.2, "c": 0.1},
    "b": {"a": 0.3, "b": 0.5, "c": 0.2},
    "c": {"a": 0.2, "b": 0.1, "c": 0.4},
}
FOUNDATION = {"a": 0.1, "b": 0.1, "c": 0.1}
LOSS = {"a": 2.0, "b": 3.0, "c": 1.0}


def test_complexity_by_hand():
    # a: 1*2.0 - 0.5*((0.3-0.1) + (0.2-0.1)) = 2.0 - 0.15 = 1.85
    # b: 3.0 - 0.5*((0.2-0.1) + (0.1-0.1)) = 2.95 ; c: 1.0 - 0.5*((0.1-0.1) + (0.2-0.1)) = 0.95
    values = complexity(ABILITIES, LOSS, CROSS, FOUNDATION, w1=1.0, w2=0.5)
    assert values == {"a": pytest.approx(1.85), "b": pytest.approx(2.95), "c": pytest.approx(0.95)}


def test_transference_by_hand():
    # a: (0.2-0.5) + (0.1-0.4) = -0.6 ; b: (0.3-0.6) + (0.2-0.4) = -0.5 ; c: (0.2-0.6) + (0.1-0.5) = -0.8
    values = transference(ABILITIES, CROSS, w=2.0)
    assert values == {"a": pytest.approx(-1.2), "b": pytest.approx(-1.0), "c": pytest.approx(-1.6)}


def test_regression_and_leave_one_out_on_a_known_line():
    xs = [0.0, 1.0, 2.0, 3.0, 4.0]
    fit = regression(xs, [1 + 2 * x for x in xs])
    assert fit["slope"] == pytest.approx(2) and fit["intercept"] == pytest.approx(1)
    assert fit["pearson_r"] == pytest.approx(1) and fit["loo_rmse"] == pytest.approx(0, abs=1e-9)
    noisy = regression(xs, [1.0, 3.5, 4.5, 7.5, 8.5])
    assert 0 < noisy["p_value"] < 0.05 and noisy["loo_rmse"] > 0
    # leave-one-out by hand: each point predicted by the line through the other four
    from scipy import stats

    ys = [1.0, 3.5, 4.5, 7.5, 8.5]
    errors = []
    for k in range(5):
        rest = stats.linregress(
            [x for m, x in enumerate(xs) if m != k], [y for m, y in enumerate(ys) if m != k]
        )
        errors.append(ys[k] - (rest.intercept + rest.slope * xs[k]))
    assert noisy["loo_rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / 5))
    assert noisy["p_value"] == pytest.approx(stats.linregress(xs, ys).pvalue)


def test_normalise_and_classify():
    assert normalise({"a": 1.0, "b": 3.0, "c": None}) == {"a": 0.0, "b": 1.0, "c": None}
    assert normalise({"a": 1.0, "b": 1.0}) == {"a": None, "b": None}
    thresholds = {"resistant": 0.3, "balance": 0.1}
    assert classify(0.92, 0.54, thresholds) == "parameter-biased"  # the paper's Novel Generation
    assert classify(0.2, 0.6, thresholds) == "data-biased"
    assert classify(0.7, 0.65, thresholds) == "responsive"
    assert classify(0.1, 0.25, thresholds) == "resistant"
    assert classify(None, 0.1, thresholds) == "undefined"
