"""Calibration by simulation: studies with a known truth, on a grid of the study's shape, analysed
with the study's own intervals (`analysis.intervals`), to show how often the intervals hold the
true sensitivity (docs/analysis.md, "Calibration"; tests/analysis/test_calibration.py).

A simulated study: `sizes` model sizes (log parameters), each with `foundations` foundation models,
each fine-tuned at every data volume of `volumes` (log items), every run scored on the same `items`
test items. A run's item score is the item's own level, plus the true slopes times the centred log
size and log volume, plus the foundation's draw (a level and its own data slope), plus the run's
draw (seed, data order and draw), plus the item's noise: on accuracy, a 0/1 outcome drawn with that
probability; on a continuous score, the value with Gaussian item noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from doit_study.analysis.intervals import between_units, within_units


@dataclass(frozen=True)
class Truth:
    """The known slopes and noise of a simulated study (standard deviations of each draw)."""

    size_slope: float
    data_slope: float
    foundation_sd: float  # a foundation's level
    foundation_slope_sd: float  # a foundation's own data slope around the true one
    run_sd: float  # a fine-tuning run: seed, data order, data draw
    item_sd: float  # items' levels around the mean (their difficulty)
    noise_sd: float  # per item and run: continuous scores only (accuracy draws 0/1 instead)
    level: float  # the mean score (accuracy: a probability)


def simulate(
    truth: Truth, log_sizes, log_volumes, foundations: int, items: int, binary: bool, rng: np.random.Generator
) -> np.ndarray:
    """Run means, shape (sizes, foundations, volumes): each the mean over items of a run's scores."""
    n_sizes, n_volumes = len(log_sizes), len(log_volumes)
    size = (np.asarray(log_sizes) - np.mean(log_sizes))[:, None, None, None]
    volume = (np.asarray(log_volumes) - np.mean(log_volumes))[None, None, :, None]
    item = rng.normal(0, truth.item_sd, items)[None, None, None, :]
    level = rng.normal(0, truth.foundation_sd, (n_sizes, foundations, 1, 1))
    slope = rng.normal(0, truth.foundation_slope_sd, (n_sizes, foundations, 1, 1))
    run = rng.normal(0, truth.run_sd, (n_sizes, foundations, n_volumes, 1))
    mean = truth.level + truth.size_slope * size + (truth.data_slope + slope) * volume + level + run + item
    if binary:
        scores = rng.random(mean.shape) < np.clip(mean, 0.0, 1.0)
    else:
        scores = mean + rng.normal(0, truth.noise_sd, mean.shape)
    return scores.mean(axis=3)


def intervals_of(runs: np.ndarray, log_sizes, log_volumes, level: float) -> dict[str, dict]:
    """The study's two intervals on simulated run means (sizes, foundations, volumes)."""
    n_sizes, n_foundations, _ = runs.shape
    xs = [log_sizes[s] for s in range(n_sizes) for _ in range(n_foundations)]
    ys = [float(runs[s, f].mean()) for s in range(n_sizes) for f in range(n_foundations)]
    curves = {
        f"{s}-{f}": (list(log_volumes), runs[s, f].tolist())
        for s in range(n_sizes)
        for f in range(n_foundations)
    }
    return {"param": between_units(xs, ys, level), "data": within_units(curves, level)}


def coverage(
    truth: Truth,
    log_sizes,
    log_volumes,
    foundations: int,
    items: int,
    binary: bool,
    studies: int,
    level: float,
    seed: int,
) -> dict[str, dict]:
    """Per axis: the share of `studies` simulated studies whose interval holds the true slope, the
    share whose interval excludes zero (false alarms when the truth is 0, power when it is not),
    and the mean interval width."""
    rng = np.random.default_rng(seed)
    true = {"param": truth.size_slope, "data": truth.data_slope}
    held = {axis: [] for axis in true}
    for _ in range(studies):
        runs = simulate(truth, log_sizes, log_volumes, foundations, items, binary, rng)
        for axis, interval in intervals_of(runs, log_sizes, log_volumes, level).items():
            held[axis].append((interval["low"], interval["high"]))
    found = {}
    for axis, bounds in held.items():
        low, high = np.asarray(bounds).T
        found[axis] = {
            "coverage": float(np.mean((low <= true[axis]) & (true[axis] <= high))),
            "excludes_zero": float(np.mean((low > 0) | (high < 0))),
            "mean_width": float(np.mean(high - low)),
            "studies": studies,
        }
    return found
