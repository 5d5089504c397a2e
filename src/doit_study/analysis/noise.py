"""Noise, signal and decisions over replicated settings, after "Signal and Noise" (Heineman et al.
2025) and DataDecide: how far scores move between seeds (and between the last eligible epochs),
how far they spread across the settings of a study, and whether the smallest model size orders
settings as the largest does. Pure functions over numbers; undefined values are None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations


def pooled_sd(groups: Sequence[Sequence[float]]) -> float | None:
    """The pooled standard deviation within groups (each a point's seeds, or a run's epochs): the
    square root of the summed squared deviations over the summed degrees of freedom. Groups of one
    value carry no noise estimate; None when no group has two."""
    squares, freedom = 0.0, 0
    for values in groups:
        if len(values) > 1:
            mean = math.fsum(values) / len(values)
            squares += math.fsum((v - mean) ** 2 for v in values)
            freedom += len(values) - 1
    return math.sqrt(squares / freedom) if freedom else None


def signal(point_means: Sequence[float]) -> float | None:
    """The spread of a score across the study's settings: the largest minus the smallest mean. (The
    paper's relative dispersion divides by the mean score, as its noise does: the ratio is the
    same, and this one stays defined for scores that are negative, like log-likelihoods.)"""
    return max(point_means) - min(point_means) if len(point_means) > 1 else None


def signal_to_noise(spread: float | None, noise: float | None) -> float | None:
    if spread is None or not noise:
        return None
    return spread / noise


def decision_accuracy(small: Mapping[float, float], large: Mapping[float, float]) -> float | None:
    """The share of pairs of settings (keyed alike, e.g. by data volume) that the small model size
    orders as the large one does; a tie at either size counts half (no decision was made)."""
    shared = sorted(set(small) & set(large))
    pairs = list(combinations(shared, 2))
    if not pairs:
        return None
    agree = 0.0
    for a, b in pairs:
        low, high = small[a] - small[b], large[a] - large[b]
        agree += 0.5 if low == 0 or high == 0 else float((low > 0) == (high > 0))
    return agree / len(pairs)
