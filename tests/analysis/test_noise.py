"""Noise, signal and decisions over a study's runs, on small frames computed by hand."""

import math

import pandas as pd
import pytest

from doit_study.analysis.noise import (
    checkpoint_noise,
    decision_accuracy,
    decisions,
    pooled_sd,
    relative_dispersion,
    signal,
    signal_null,
)


def _runs(scores: dict[tuple[str, str, int], float]) -> pd.DataFrame:
    """One row per run: (size, foundation, data volume) -> score; the larger size has more parameters."""
    parameters = {"s": 100, "l": 1000}
    return pd.DataFrame(
        [
            {"size": s, "parameters": parameters[s], "foundation": f, "data_volume": d, "score": v}
            for (s, f, d), v in scores.items()
        ]
    )


def test_pooled_sd_sums_squares_over_degrees_of_freedom_and_skips_single_values():
    # (1-2)^2 + (3-2)^2 = 2 on 1 df; (2-4)^2 + (6-4)^2 = 8 on 2 df; [5] adds nothing
    assert pooled_sd([[1.0, 3.0], [2.0, 4.0, 6.0], [5.0]]) == pytest.approx(math.sqrt(10 / 3))
    assert pooled_sd([[1.0], [2.0]]) is None and pooled_sd([]) is None


def test_relative_dispersion_and_checkpoint_noise_by_hand():
    assert relative_dispersion([1.0, 2.0, 3.0]) == pytest.approx(1.0)  # (3 - 1) / 2
    assert relative_dispersion([-2.0, -4.0]) == pytest.approx(2 / 3)  # |mean| for negative scores
    assert relative_dispersion([5.0]) is None and relative_dispersion([-1.0, 1.0]) is None
    # a run steady at 1 (relative SD 0) and one at 2, 4 (SD sqrt(2), mean 3)
    assert checkpoint_noise([[1.0, 1.0, 1.0], [2.0, 4.0]]) == pytest.approx(math.sqrt(2) / 3 / 2)
    assert checkpoint_noise([[0.0, 0.0], [7.0]]) is None  # a mean of 0 and a single checkpoint


def test_signal_is_the_mean_over_sizes_of_the_recipes_relative_dispersion():
    runs = _runs(
        {
            ("s", "s0", 10): 1.0,
            ("s", "s0", 40): 3.0,
            ("s", "s1", 10): 1.0,
            ("s", "s1", 40): 3.0,
            ("l", "l0", 10): 2.0,
            ("l", "l0", 40): 2.0,
        }
    )
    assert signal(runs, ["data_volume"]) == pytest.approx((1.0 + 0.0) / 2)  # s: (3 - 1) / 2; l: 0


def test_signal_null_permutes_recipes_within_each_foundation_only():
    """Foundations far apart, recipes alike: every recipe has one run of each foundation, so its mean
    is the same whatever the labels within a foundation: observed and permuted signal are 0. A
    permutation across foundations would spread the recipe means and give the null a positive mean."""
    levels = {"s0": 0.2, "s1": 0.6, "l0": 0.4, "l1": 0.9}
    runs = _runs({(f[0], f, d): levels[f] for f in levels for d in (10, 40, 160)})
    found = signal_null(runs, ["data_volume"], permutations=50, seed=0)
    assert signal(runs, ["data_volume"]) == 0.0
    assert found == {"defined": True, "mean": 0.0, "p_value": 1.0, "permutations": 50}


def test_a_recipe_effect_stands_out_of_its_permutation_null():
    effect = {10: 0.0, 40: 0.1, 160: 0.2}
    offsets = {"s0": 0.30, "s1": 0.32, "s2": 0.31, "l0": 0.50, "l1": 0.52, "l2": 0.51}
    runs = _runs({(f[0], f, d): offsets[f] + effect[d] for f in offsets for d in effect})
    found = signal_null(runs, ["data_volume"], permutations=200, seed=0)
    assert found["defined"] and found["mean"] < signal(runs, ["data_volume"])
    assert found["p_value"] < 0.05
    assert found == signal_null(runs, ["data_volume"], permutations=200, seed=0)  # seeded


def test_signal_null_is_undefined_without_labels_to_permute_or_without_a_signal():
    one_run_each = _runs({("s", "s0", 10): 0.1, ("s", "s1", 40): 0.2, ("l", "l0", 10): 0.3})
    assert not signal_null(one_run_each, ["data_volume"], 20, 0)["defined"]
    zeros = _runs({(f[0], f, d): 0.0 for f in ("s0", "l0") for d in (10, 40)})  # a mean of 0
    assert signal(zeros, ["data_volume"]) is None
    assert not signal_null(zeros, ["data_volume"], 20, 0)["defined"]
    # every run tied at a score above 0: a signal of exactly 0 is measured, and nothing beats it
    tied = _runs({(f[0], f, d): 0.25 for f in ("s0", "s1", "l0", "l1") for d in (10, 40)})
    assert signal(tied, ["data_volume"]) == 0.0
    assert signal_null(tied, ["data_volume"], 20, 0) == {
        "defined": True,
        "mean": 0.0,
        "p_value": 1.0,
        "permutations": 20,
    }


def test_decision_accuracy_counts_agreeing_pairs_and_ties_as_half():
    # pairs (a, b) agree, (a, c) agree, (b, c) disagree
    assert decision_accuracy({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 3, "c": 2}) == pytest.approx(2 / 3)
    # (a, b) ties at the small size: half; (a, c) and (b, c) agree
    assert decision_accuracy({"a": 1, "b": 1, "c": 2}, {"a": 1, "b": 2, "c": 3}) == pytest.approx(2.5 / 3)
    assert decision_accuracy({"a": 1, "b": 1}, {"a": 2, "b": 2}) is None  # every pair ties at both
    assert decision_accuracy({"a": 1, "b": 2}, {"a": 1, "c": 2}) is None  # one shared recipe: no pair


def test_decisions_have_a_bootstrap_interval_over_the_foundations():
    small = {  # s0 and s2 order the volumes upwards, s1 downwards: resampling s1 flips the decision
        "s0": [0.10, 0.20, 0.30],
        "s1": [0.30, 0.20, 0.10],
        "s2": [0.10, 0.25, 0.30],
    }
    large = {f"l{k}": [0.4 + 0.01 * k, 0.5, 0.6] for k in range(3)}
    volumes = (10, 40, 160)
    runs = _runs({(f[0], f, d): v[i] for f, v in (small | large).items() for i, d in enumerate(volumes)})
    found = decisions(runs, ["data_volume"], replicates=60, seed=0, level=0.95)
    # the small size's means rise (0.167, 0.217, 0.233) as the large's do: every pair agrees
    assert found["defined"] and found["value"] == 1.0 and found["pairs"] == 3
    assert found["low"] < found["value"] <= found["high"] == 1.0
    assert found == decisions(runs, ["data_volume"], replicates=60, seed=0, level=0.95)
    steady = {f: [0.1, 0.2, 0.3] for f in ("s0", "s1", "s2")} | large
    runs = _runs({(f[0], f, d): v[i] for f, v in steady.items() for i, d in enumerate(volumes)})
    sure = decisions(runs, ["data_volume"], replicates=60, seed=0, level=0.95)
    assert (sure["low"], sure["value"], sure["high"]) == (1.0, 1.0, 1.0)


def test_decisions_are_undefined_when_everything_ties_or_there_is_one_size():
    tied = _runs({(f[0], f, d): 0.25 for f in ("s0", "s1", "l0", "l1") for d in (10, 40, 160)})
    found = decisions(tied, ["data_volume"], 50, 0, 0.95)
    assert found["defined"] is False and "ties" in found["reason"] and "value" not in found
    one_size = _runs({("s", f, d): 0.1 * d for f in ("s0", "s1") for d in (10, 40)})
    assert decisions(one_size, ["data_volume"], 50, 0, 0.95)["defined"] is False
