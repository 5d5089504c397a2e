"""Noise, signal and decision accuracy on numbers worked out by hand."""

import math

import pytest

from doit_study.analysis.noise import decision_accuracy, pooled_sd, signal, signal_to_noise


def test_pooled_sd_weighs_groups_by_their_degrees_of_freedom():
    # deviations: (0.1, 0.3) around 0.2 -> 0.02; (0.5, 0.5, 0.8) around 0.6 -> 0.06; 1 + 2 dof
    assert pooled_sd([[0.1, 0.3], [0.5, 0.5, 0.8], [0.9]]) == pytest.approx(math.sqrt(0.08 / 3))
    assert pooled_sd([[0.4], [0.2]]) is None  # one seed per point: no noise estimate


def test_signal_to_noise_is_the_spread_over_the_noise():
    assert signal([0.2, 0.5, 0.35]) == pytest.approx(0.3)
    assert signal_to_noise(0.3, 0.05) == pytest.approx(6.0)
    assert signal([-3.0, -2.0]) == pytest.approx(1.0)  # log-likelihood scores stay defined
    assert signal_to_noise(None, 0.1) is None and signal_to_noise(0.3, 0.0) is None


def test_decision_accuracy_counts_pairs_ordered_alike_and_ties_half():
    large = {4: 0.2, 16: 0.4, 64: 0.6}
    assert decision_accuracy({4: 0.1, 16: 0.2, 64: 0.3}, large) == 1.0
    assert decision_accuracy({4: 0.3, 16: 0.2, 64: 0.1}, large) == 0.0
    # pairs (4,16) tie: 0.5; (4,64) agree: 1; (16,64) agree: 1
    assert decision_accuracy({4: 0.1, 16: 0.1, 64: 0.3}, large) == pytest.approx(2.5 / 3)
    assert decision_accuracy({4: 0.1}, large) is None
