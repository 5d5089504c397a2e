"""The paper's analysis (Section 4.3.2) besides the sensitivities' intervals (`analysis.intervals`):
the factors' scales, the normalisation of the paper's figures, Complexity and Transference, and their
regression on the sensitivities (Figure 7) with Pearson's and Spearman's correlations and bootstrap
intervals over the abilities. Pure functions over numbers; a value that cannot be computed is
reported as undefined with the reason, never made up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def undefined(reason: str) -> dict:
    return {"defined": False, "reason": reason}


def transform(xs: Sequence[float], scale: str) -> np.ndarray:
    """A factor's values as fitted: log for counts and sizes, as they are for shares (a share of
    0, like no chain-of-thought data, has no logarithm)."""
    return np.log(xs) if scale == "log" else np.asarray(xs, dtype=float)


def normalise(values: Mapping[str, float | None]) -> dict[str, float | None]:
    """Min-max scaling to [0, 1] across abilities (the paper's normalised sensitivities)."""
    known = {k: v for k, v in values.items() if v is not None}
    if len(known) < 2 or max(known.values()) == min(known.values()):
        return dict.fromkeys(values)
    low, high = min(known.values()), max(known.values())
    return {k: (v - low) / (high - low) if v is not None else None for k, v in values.items()}


def complexity(
    abilities: Sequence[str],
    test_loss: Mapping[str, float],
    cross: Mapping[str, Mapping[str, float]],
    foundation: Mapping[str, float],
    w1: float,
    w2: float,
) -> dict[str, float]:
    """Complexity_i = w1 * L_i - w2 * sum_{j != i} (Acc(j, i) - Acc(f, i)).
    cross[j][i] is the accuracy on ability i of the model trained on j alone."""
    return {
        i: w1 * test_loss[i] - w2 * math.fsum(cross[j][i] - foundation[i] for j in abilities if j != i)
        for i in abilities
    }


def transference(
    abilities: Sequence[str], cross: Mapping[str, Mapping[str, float]], w: float
) -> dict[str, float]:
    """Transference_i = w * sum_{j != i} (Acc(i, j) - Acc(j, j))."""
    return {i: w * math.fsum(cross[i][j] - cross[j][j] for j in abilities if j != i) for i in abilities}


def features(
    abilities: Sequence[str],
    cross: Mapping[str, Mapping[str, float]],
    test_loss: Mapping[str, float],
    foundation: Mapping[str, float],
    weights: Mapping[str, float],
) -> dict:
    """Complexity and Transference of every ability whose single-ability run exists."""
    present = [a for a in abilities if a in cross and a in test_loss]
    missing = sorted(set(abilities) - set(present))
    out = {
        "cross": {j: {i: cross[j][i] for i in present} for j in present},
        "test_loss": {i: test_loss[i] for i in present},
        "foundation": {i: foundation[i] for i in present if i in foundation},
        "weights": dict(weights),
        "missing": dict.fromkeys(missing, "no single-ability run of this ability"),
    }
    if len(present) < 2:
        out["complexity"] = out["transference"] = undefined("fewer than two single-ability runs")
        return out
    out["complexity"] = complexity(present, test_loss, cross, foundation, weights["w1"], weights["w2"])
    out["transference"] = transference(present, cross, weights["w"])
    return out


def regression(xs: Sequence[float], ys: Sequence[float], resampling: Mapping) -> dict:
    """Ordinary least squares of y on x (scikit-learn): slope, intercept, Pearson's r with its
    p-value, Spearman's rho with its p-value (scipy), R^2, the leave-one-out root-mean-square
    prediction error, and percentile intervals of both correlations from resampling the points
    (abilities) with replacement."""
    from scipy import stats
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    xs, ys = list(xs), list(ys)
    if len(xs) < 3:
        return undefined(f"{len(xs)} points: a line through fewer than three points cannot be tested")
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return undefined("constant values: no correlation is defined")
    if any(len(set(xs[:k] + xs[k + 1 :])) < 2 for k in range(len(xs))):
        return undefined("leave-one-out leaves a constant predictor")
    features, target = np.asarray(xs, dtype=float).reshape(-1, 1), np.asarray(ys, dtype=float)
    fit = LinearRegression().fit(features, target)
    left_out = cross_val_predict(LinearRegression(), features, target, cv=LeaveOneOut())
    r, p_value = stats.pearsonr(features[:, 0], target)
    rho, rho_p = stats.spearmanr(features[:, 0], target)
    return {
        "defined": True,
        "slope": float(fit.coef_[0]),
        "intercept": float(fit.intercept_),
        "pearson_r": float(r),
        "p_value": float(p_value),
        "spearman_rho": float(rho),
        "spearman_p_value": float(rho_p),
        "r2": float(r**2),
        "loo_rmse": float(np.sqrt(np.mean((target - left_out) ** 2))),
        "points": len(xs),
        "intervals": correlation_intervals(features[:, 0], target, resampling),
    }


def correlation_intervals(xs: np.ndarray, ys: np.ndarray, resampling: Mapping) -> dict:
    """Percentile intervals of Pearson's r and Spearman's rho over resamples of the points; a
    resample with a constant variable has no correlation and is left out (and counted)."""
    from scipy import stats

    rng = np.random.default_rng(resampling["seed"])
    pearson, spearman, constant = [], [], 0
    for _ in range(resampling["replicates"]):
        pick = rng.integers(len(xs), size=len(xs))
        x, y = xs[pick], ys[pick]
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            constant += 1
            continue
        pearson.append(stats.pearsonr(x, y)[0])
        spearman.append(stats.spearmanr(x, y)[0])
    tail = (1 - resampling["level"]) / 2
    found = {"level": resampling["level"], "resamples": len(pearson), "constant_resamples": constant}
    for name, values in (("pearson_r", pearson), ("spearman_rho", spearman)):
        low, high = np.nanquantile(values, [tail, 1 - tail]) if values else (np.nan, np.nan)
        found[name] = [float(low), float(high)]
    return found


def feature_regressions(sensitivity: Mapping[str, dict], feature: Mapping, resampling: Mapping) -> dict:
    """Complexity against the sensitivity to model size and Transference against the sensitivity to
    data volume (Figure 7), each sensitivity in comparable units (the normalised value: min-max
    scaling is affine, so r and rho are those of the sensitivities themselves)."""
    result = {}
    for name, feature_key, axis in (
        ("complexity_vs_param", "complexity", "param"),
        ("transference_vs_data", "transference", "data"),
    ):
        values = feature.get(feature_key, {})
        if values.get("defined") is False:
            result[name] = undefined(f"{feature_key} is undefined")
            continue
        used = [
            a for a in sorted(values) if sensitivity.get(a, {}).get(axis, {}).get("normalised") is not None
        ]
        fit = regression(
            [values[a] for a in used], [sensitivity[a][axis]["normalised"] for a in used], resampling
        )
        result[name] = fit | {"abilities": used}
    return result
