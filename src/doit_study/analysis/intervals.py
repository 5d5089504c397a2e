"""Intervals for a sensitivity from the replicates a study has, and the correction for reading many
at once (docs/analysis.md, "Replicates and intervals").

The unit of replication is the foundation model: each is pretrained from its own seed (or is its
own release), and every fine-tuning run on it (its data volumes, task counts, shares) shares its
draw. So a sensitivity is estimated from one number per foundation, and its interval is Student's t
with the foundations' degrees of freedom, which stays calibrated with two or three foundations per
size where a bootstrap over so few draws does not (tests/analysis/test_calibration.py):

- **between foundations** (model size, which only foundations vary): each foundation's mean score
  over its runs, regressed on its size (least squares); t interval with n - 2 degrees of freedom;
- **within foundations** (data volume, task count, shares: what its runs vary): each foundation's own
  slope over its runs, averaged; t interval with n - 1 degrees of freedom.

A foundation's number averages its runs and their test items, so the noise of the fine-tuning seed,
the data order and draw, and the items' sampling is inside it; items are the same for every run, so
their difficulty cancels in a slope. Too few foundations for a degree of freedom: `undetermined`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def undetermined(reason: str) -> dict:
    return {"defined": False, "undetermined": True, "reason": reason}


def t_interval(estimate: float, stderr: float, df: int, level: float) -> dict:
    """A two-sided Student t interval and the p-value of "no effect"."""
    from scipy import stats

    quantile = float(stats.t.ppf(0.5 + level / 2, df))
    if stderr == 0:  # every unit agrees exactly: no spread to speak of
        p_value = 1.0 if estimate == 0 else 0.0
    else:
        p_value = float(2 * stats.t.sf(abs(estimate) / stderr, df))
    return {
        "defined": True,
        "low": estimate - quantile * stderr,
        "high": estimate + quantile * stderr,
        "level": level,
        "stderr": stderr,
        "df": df,
        "p_value": p_value,
        "excludes_zero": p_value < 1 - level,
    }


def between_units(xs: Sequence[float], ys: Sequence[float], level: float) -> dict:
    """Least-squares slope of one value per unit (a foundation's mean score) on its factor value
    (log size), with its t interval (n - 2 degrees of freedom)."""
    from scipy import stats

    if len(set(xs)) < 2:
        return undetermined(f"fewer than two distinct values ({sorted(set(xs))})")
    if len(xs) < 3:
        return undetermined(f"{len(xs)} foundations: no degree of freedom left for their noise")
    if len(set(ys)) == 1:  # every unit scores alike: scipy leaves the error NaN (or a rounding residue)
        return {"alpha": 0.0, "units": len(xs)} | t_interval(0.0, 0.0, len(xs) - 2, level)
    fit = stats.linregress(xs, ys)
    return {"alpha": float(fit.slope), "units": len(xs)} | t_interval(
        float(fit.slope), float(fit.stderr), len(xs) - 2, level
    )


def within_units(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], level: float) -> dict:
    """The mean over units (foundations) of each unit's own least-squares slope of its scores on the
    factor (log data volume, ...), with its t interval (n - 1 degrees of freedom)."""
    from scipy import stats

    slopes = []
    for name, (xs, ys) in sorted(curves.items()):
        if len(set(xs)) < 2:
            return undetermined(f"foundation {name} has fewer than two distinct values")
        # a constant curve has no slope; scipy may leave a rounding residue that no spread outweighs
        slopes.append(0.0 if len(set(ys)) == 1 else float(stats.linregress(xs, ys).slope))
    if len(slopes) < 2:
        return undetermined(f"{len(slopes)} foundation: its noise cannot be told from the effect")
    mean = math.fsum(slopes) / len(slopes)
    stderr = float(np.std(slopes, ddof=1) / math.sqrt(len(slopes)))
    return {"alpha": mean, "units": len(slopes)} | t_interval(mean, stderr, len(slopes) - 1, level)


def benjamini_hochberg(p_values: Mapping[str, float], q: float) -> dict[str, dict]:
    """Per named p-value: the Benjamini-Hochberg adjusted value (scipy) and whether it is a
    discovery at false discovery rate `q` over all of them."""
    from scipy import stats

    names = sorted(p_values)
    if not names:
        return {}
    adjusted = stats.false_discovery_control([p_values[n] for n in names], method="bh")
    return {
        n: {"p_adjusted": float(a), "discovery": bool(a < q)} for n, a in zip(names, adjusted, strict=True)
    }
