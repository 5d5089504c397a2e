"""The factors' scales, the figures' normalisation, Complexity and Transference on a hand-computed
matrix, and their regression with Pearson's and Spearman's correlations and bootstrap intervals."""

import math

import numpy as np
import pytest
from scipy import stats

from doit_study.analysis.fits import (
    complexity,
    correlation_intervals,
    feature_regressions,
    features,
    normalise,
    regression,
    transference,
    transform,
)

RESAMPLING = {"replicates": 400, "seed": 0, "level": 0.95}


def test_counts_are_fitted_on_log_and_shares_as_they_are():
    assert transform([1.0, math.e], "log").tolist() == pytest.approx([0.0, 1.0])
    assert transform([0.0, 0.5], "linear").tolist() == [0.0, 0.5]  # a share of 0 has no logarithm


def test_normalise_scales_to_0_1_and_leaves_what_cannot_be_scaled_undefined():
    assert normalise({"a": 1.0, "b": 3.0, "c": 2.0, "d": None}) == {"a": 0.0, "b": 1.0, "c": 0.5, "d": None}
    assert normalise({"a": 1.0, "b": 1.0}) == {"a": None, "b": None}
    assert normalise({"a": 1.0, "b": None}) == {"a": None, "b": None}


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


def test_features_name_the_abilities_without_a_single_ability_run():
    weights = {"w1": 1.0, "w2": 0.5, "w": 2.0}
    found = features([*ABILITIES, "d"], CROSS, LOSS, FOUNDATION, weights)
    assert found["missing"] == {"d": "no single-ability run of this ability"}
    assert found["complexity"]["a"] == pytest.approx(1.85) and set(found["transference"]) == set(ABILITIES)
    two = {j: {i: CROSS[j][i] for i in ("a", "b")} for j in ("a", "b")}
    lone = features(["a", "b", "c"], {"a": two["a"]}, LOSS, FOUNDATION, weights)
    assert lone["complexity"] == {"defined": False, "reason": "fewer than two single-ability runs"}


def test_regression_on_a_known_line_and_leave_one_out_by_hand():
    xs = [0.0, 1.0, 2.0, 3.0, 4.0]
    fit = regression(xs, [1 + 2 * x for x in xs], RESAMPLING)
    assert fit["slope"] == pytest.approx(2) and fit["intercept"] == pytest.approx(1)
    assert fit["pearson_r"] == pytest.approx(1) and fit["spearman_rho"] == pytest.approx(1)
    assert fit["loo_rmse"] == pytest.approx(0, abs=1e-9) and fit["points"] == 5
    ys = [1.0, 3.5, 4.5, 7.5, 8.5]
    noisy = regression(xs, ys, RESAMPLING)
    errors = []
    for k in range(5):  # each point predicted by the line through the other four
        rest = stats.linregress(
            [x for m, x in enumerate(xs) if m != k], [y for m, y in enumerate(ys) if m != k]
        )
        errors.append(ys[k] - (rest.intercept + rest.slope * xs[k]))
    assert noisy["loo_rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / 5))
    assert noisy["p_value"] == pytest.approx(stats.linregress(xs, ys).pvalue)
    assert noisy["r2"] == pytest.approx(stats.linregress(xs, ys).rvalue ** 2)


def test_pearson_and_spearman_differ_where_the_relation_is_monotone_but_not_linear():
    xs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    ys = [math.exp(x) for x in xs]
    fit = regression(xs, ys, RESAMPLING)
    assert fit["spearman_rho"] == pytest.approx(1.0) and fit["spearman_p_value"] < 0.001
    assert fit["pearson_r"] == pytest.approx(stats.pearsonr(xs, ys)[0]) and fit["pearson_r"] < 0.9


def test_correlations_have_seeded_bootstrap_intervals_around_them():
    rng = np.random.default_rng(1)
    xs = np.arange(12.0)
    ys = 0.5 * xs + rng.normal(0, 2.0, 12)
    fit = regression(xs.tolist(), ys.tolist(), RESAMPLING)
    found = fit["intervals"]
    assert found["level"] == 0.95 and found["resamples"] + found["constant_resamples"] == 400
    for name in ("pearson_r", "spearman_rho"):
        low, high = found[name]
        assert -1 <= low < fit[name] < high <= 1
    assert found == correlation_intervals(xs, ys, RESAMPLING)  # the same seed, the same interval
    other = correlation_intervals(xs, ys, RESAMPLING | {"seed": 1})
    assert other["pearson_r"] != found["pearson_r"]
    wider = correlation_intervals(xs, ys, RESAMPLING | {"level": 0.99})
    assert wider["pearson_r"][0] < found["pearson_r"][0] and wider["pearson_r"][1] >= found["pearson_r"][1]


def test_resamples_with_a_constant_variable_are_left_out_and_counted():
    # three points: a resample draws the same point three times with probability 3 / 27
    found = correlation_intervals(np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0, 1.0]), RESAMPLING)
    assert 0 < found["constant_resamples"] < 400 and found["resamples"] == 400 - found["constant_resamples"]
    assert found["constant_resamples"] == pytest.approx(400 * 3 / 27, abs=20)


def test_regressions_that_cannot_be_tested_are_undefined_with_the_reason():
    assert "fewer than three" in regression([1.0, 2.0], [3.0, 4.0], RESAMPLING)["reason"]
    assert "constant" in regression([1.0, 2.0, 3.0], [5.0, 5.0, 5.0], RESAMPLING)["reason"]
    assert "leave-one-out" in regression([1.0, 1.0, 2.0], [1.0, 2.0, 3.0], RESAMPLING)["reason"]


def test_feature_regressions_use_the_normalised_sensitivities_of_the_sets_that_have_one():
    values = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "e": 5.0}
    sensitivity = {
        name: {"param": {"normalised": value / 10}, "data": {"normalised": 1 - value / 10}}
        for name, value in values.items()
    }
    sensitivity["e"]["param"]["normalised"] = None  # not comparable: left out of the size relation
    feature = {"complexity": values, "transference": values}
    found = feature_regressions(sensitivity, feature, RESAMPLING)
    size, data = found["complexity_vs_param"], found["transference_vs_data"]
    assert size["abilities"] == ["a", "b", "c", "d"] and size["slope"] == pytest.approx(0.1)
    assert data["abilities"] == list(values) and data["pearson_r"] == pytest.approx(-1.0)
    undefined = feature_regressions(
        sensitivity, {"complexity": {"defined": False}, "transference": values}, RESAMPLING
    )
    assert undefined["complexity_vs_param"] == {"defined": False, "reason": "complexity is undefined"}
