"""Noise, signal and decisions over a study's runs, as "Signal and Noise" (Heineman et al., 2025) and
DataDecide define them, each beside what noise alone gives (docs/analysis.md):

- signal: the relative dispersion of the final scores across the data settings of one model size,
  (largest - smallest) / |mean|, averaged over the sizes; its null reference is the same statistic
  with each foundation's runs' setting labels permuted among themselves (what noise alone spreads:
  every setting still has one run of each foundation);
- checkpoint noise: the relative standard deviation of a run's score over its last checkpoints,
  averaged over runs; replicate noise: the pooled standard deviation of the runs of one grid point;
- decision accuracy: the share of pairs of data recipes that the smallest model size orders as the
  largest does, with a bootstrap interval over the foundations.

Pure functions over numbers and frames; a value that cannot be computed is None with no guess.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd


def pooled_sd(groups: Sequence[Sequence[float]]) -> float | None:
    """The pooled standard deviation within groups (each a point's runs, or a run's checkpoints):
    the square root of the summed squared deviations over the summed degrees of freedom. Groups of
    one value carry no noise estimate; None when no group has two."""
    squares, freedom = 0.0, 0
    for values in groups:
        if len(values) > 1:
            mean = math.fsum(values) / len(values)
            squares += math.fsum((v - mean) ** 2 for v in values)
            freedom += len(values) - 1
    return math.sqrt(squares / freedom) if freedom else None


def relative_dispersion(scores: Sequence[float]) -> float | None:
    """(largest - smallest) / |mean| of a size's data settings; None for one setting or a mean of 0."""
    if len(scores) < 2:
        return None
    mean = abs(math.fsum(scores) / len(scores))
    return (max(scores) - min(scores)) / mean if mean > 0 else None


def checkpoint_noise(runs: Sequence[Sequence[float]]) -> float | None:
    """The mean over runs of the relative standard deviation of their last checkpoints' scores."""
    found = []
    for values in runs:
        mean = abs(math.fsum(values) / len(values)) if values else 0.0
        if len(values) > 1 and mean > 0:
            found.append(float(np.std(values, ddof=1)) / mean)
    return math.fsum(found) / len(found) if found else None


def signal(runs: pd.DataFrame, recipe: Sequence[str]) -> float | None:
    """Mean over sizes of the relative dispersion of the recipes' mean scores. `runs`: one row per
    run with `size`, the recipe columns and `score`."""
    found = []
    for _, mine in runs.groupby("size", sort=True):
        value = relative_dispersion(mine.groupby(list(recipe))["score"].mean().tolist())
        if value is not None:
            found.append(value)
    return math.fsum(found) / len(found) if found else None


def signal_null(runs: pd.DataFrame, recipe: Sequence[str], permutations: int, seed: int) -> dict:
    """The signal with each foundation's recipe labels permuted among its runs: its mean and the
    share of permutations at least as large as the observed signal (the permutation p-value)."""
    observed = signal(runs, recipe)
    if observed is None or runs.groupby("foundation").size().max() < 2:
        return {"defined": False, "reason": "one run per foundation: no labels to permute"}
    rng = np.random.default_rng(seed)
    shuffled = runs.copy()
    labels = runs[list(recipe)].to_numpy()
    groups = runs["foundation"].to_numpy()
    values = []
    for _ in range(permutations):
        permuted = labels.copy()
        for group in np.unique(groups):
            mine = np.flatnonzero(groups == group)
            permuted[mine] = labels[rng.permutation(mine)]
        shuffled[list(recipe)] = permuted
        found = signal(shuffled, recipe)
        values.append(found if found is not None else 0.0)
    values = np.asarray(values)
    return {
        "defined": True,
        "mean": float(values.mean()),
        "p_value": float((1 + np.sum(values >= observed)) / (1 + permutations)),
        "permutations": permutations,
    }


def decision_accuracy(small: Mapping, large: Mapping) -> float | None:
    """The share of pairs of recipes (keyed alike) that the small model size orders as the large one
    does; a tie at either size counts half (no decision was made). None when every pair ties at
    both sizes, or there is no pair."""
    shared = sorted(set(small) & set(large))
    pairs = list(combinations(shared, 2))
    if not pairs or all(small[a] == small[b] and large[a] == large[b] for a, b in pairs):
        return None
    agree = 0.0
    for a, b in pairs:
        low, high = small[a] - small[b], large[a] - large[b]
        agree += 0.5 if low == 0 or high == 0 else float((low > 0) == (high > 0))
    return agree / len(pairs)


def decisions(runs: pd.DataFrame, recipe: Sequence[str], replicates: int, seed: int, level: float) -> dict:
    """Decision accuracy of the smallest size against the largest over pairs of recipes, with a
    percentile interval from resampling each size's foundations with replacement."""
    by_size = runs.groupby("parameters", sort=True)
    sizes = list(by_size.groups)
    if len(sizes) < 2:
        return {"defined": False, "reason": "one model size: no small and large to compare"}
    ends = [runs[runs["parameters"] == sizes[k]] for k in (0, -1)]

    def means(frame: pd.DataFrame) -> dict:
        return frame.groupby(list(recipe))["score"].mean().to_dict()

    value = decision_accuracy(means(ends[0]), means(ends[1]))
    if value is None:
        return {"defined": False, "reason": "every pair of recipes ties at both sizes (or no pair)"}
    rng = np.random.default_rng(seed)
    drawn = []
    for _ in range(replicates):
        resampled = [_resample_foundations(frame, rng) for frame in ends]
        found = decision_accuracy(means(resampled[0]), means(resampled[1]))
        drawn.append(found if found is not None else 0.5)
    tail = (1 - level) / 2
    low, high = np.quantile(drawn, [tail, 1 - tail])
    pairs = math.comb(len(set(means(ends[0])) & set(means(ends[1]))), 2)
    return {"defined": True, "value": value, "low": float(low), "high": float(high), "pairs": pairs}


def _resample_foundations(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    names = sorted(frame["foundation"].unique())
    chosen = rng.choice(len(names), size=len(names), replace=True)
    return pd.concat([frame[frame["foundation"] == names[k]] for k in chosen], ignore_index=True)
