"""The paper's analysis (Section 4.3.2): scaling sensitivities, Complexity and Transference, and the
regression between them. Pure functions over numbers; a value that cannot be computed is reported
as undefined with the reason, never made up.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

import numpy as np


def undefined(reason: str) -> dict:
    return {"defined": False, "reason": reason}


def transform(xs: Sequence[float], scale: str) -> np.ndarray:
    """A factor's values as fitted: log for counts and sizes, as they are for shares (a share of
    0, like no chain-of-thought data, has no logarithm)."""
    return np.log(xs) if scale == "log" else np.asarray(xs, dtype=float)


def fit_log_linear(xs: Sequence[float], ys: Sequence[float], scale: str = "log") -> dict:
    """ACC = alpha * log(x) + alpha * c, fitted by least squares on log(x): alpha (the sensitivity),
    the intercept (alpha * c), c, R^2 and alpha's standard error. With scale "linear", on x itself."""
    from scipy import stats

    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    if scale == "log" and any(x <= 0 for x in xs):
        return undefined("a scale of zero or less has no logarithm")
    if len(set(xs)) < 2:
        return undefined(f"fewer than two distinct scales ({sorted(set(xs))})")
    if len(set(ys)) < 2:
        return {
            "defined": True,
            "alpha": 0.0,
            "intercept": float(ys[0]),
            "c": None,
            "r2": None,
            "stderr": None,
            "points": len(xs),
            "note": "constant scores: no trend, R^2 undefined",
        }
    fit = stats.linregress(transform(xs, scale), ys)
    stderr = float(fit.stderr) if len(xs) > 2 else None  # two points fit exactly: no error estimate
    return {
        "defined": True,
        "alpha": float(fit.slope),
        "intercept": float(fit.intercept),
        "c": float(fit.intercept / fit.slope) if fit.slope else None,
        "r2": float(fit.rvalue**2),
        "stderr": stderr,
        "points": len(xs),
    }


def averaged_curve(scores: Mapping[tuple, float], axis: int) -> tuple[list[float], list[float]]:
    """Scores keyed by factor values (model size N, data volume D, ...) averaged over the other
    factors: the curve along `axis` (0: N, 1: D, ...) as sorted (xs, ys)."""
    groups: dict[float, list[float]] = {}
    for key, value in scores.items():
        groups.setdefault(key[axis], []).append(value)
    xs = sorted(groups)
    return xs, [math.fsum(groups[x]) / len(groups[x]) for x in xs]


def bootstrap_alpha(
    runs: Mapping[tuple[float, float], Sequence[Sequence[float]]],
    axis: int,
    replicates: int,
    seed: int,
    level: float = 0.95,
    scale: str = "log",
) -> dict:
    """Percentile interval of alpha from resampling test items and seeds together. `runs[key]` holds
    one per-item score list per seed of that point. A replicate draws one set of items for every
    setting (all answer the same test set: items are paired) and, per point, its seeds with
    replacement (the seeds of different points are independent trainings)."""
    arrays = {key: np.asarray(value, dtype=float) for key, value in runs.items()}
    lengths = {a.shape[1] for a in arrays.values()}
    if len(lengths) != 1:
        return undefined("settings were scored on different numbers of items")
    n = lengths.pop()
    if n == 0:
        return undefined("no test items")
    keys = sorted(arrays)
    xs = sorted({key[axis] for key in keys})
    check = fit_log_linear(xs, list(range(len(xs))), scale)
    if not check["defined"]:
        return undefined(check["reason"])
    rng = random.Random(seed)
    index = np.asarray([[rng.randrange(n) for _ in range(n)] for _ in range(replicates)])
    seeds = np.random.default_rng(seed)
    scores = {}
    for key in keys:  # every replicate at once: per seed its resampled items' mean, then seeds drawn
        per_seed = arrays[key][:, index].mean(axis=2)  # (seeds, replicates)
        drawn = seeds.integers(per_seed.shape[0], size=(replicates, per_seed.shape[0]))
        scores[key] = per_seed[drawn, np.arange(replicates)[:, None]].mean(axis=1)
    ys = np.stack([np.mean([scores[k] for k in keys if k[axis] == x], axis=0) for x in xs], axis=1)
    logs = transform(xs, scale) - transform(xs, scale).mean()
    alphas = (ys - ys.mean(axis=1, keepdims=True)) @ logs / (logs @ logs)  # least-squares slopes
    tail = (1 - level) / 2
    low, high = np.quantile(alphas, [tail, 1 - tail])
    return {"defined": True, "low": float(low), "high": float(high), "level": level, "replicates": replicates}


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


def regression(xs: Sequence[float], ys: Sequence[float]) -> dict:
    """Ordinary least squares of y on x (scikit-learn): slope, intercept, Pearson r, R^2, the
    p-value of r (scipy) and the leave-one-out root-mean-square prediction error."""
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
    return {
        "defined": True,
        "slope": float(fit.coef_[0]),
        "intercept": float(fit.intercept_),
        "pearson_r": float(r),
        "r2": float(r**2),
        "p_value": float(p_value),
        "loo_rmse": float(np.sqrt(np.mean((target - left_out) ** 2))),
        "points": len(xs),
    }


def classify(param: float | None, data: float | None, thresholds: Mapping[str, float]) -> str:
    """From normalised sensitivities (the paper's reading of Figure 7): resistant when both are below
    `thresholds["resistant"]`; responsive when they differ by at most `thresholds["balance"]`;
    otherwise biased towards the larger (the paper's Novel Generation, 0.92 vs 0.54, is
    parameter-biased)."""
    if param is None or data is None:
        return "undefined"
    if max(param, data) < thresholds["resistant"]:
        return "resistant"
    if abs(param - data) <= thresholds["balance"]:
        return "responsive"
    return "parameter-biased" if param > data else "data-biased"


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


def feature_regressions(sensitivity: Mapping[str, dict], feature: Mapping) -> dict:
    """Complexity against the normalised parameter sensitivity and Transference against the
    normalised data sensitivity (Figure 7). `sensitivity[set]` holds one score's `param` and `data`
    fits; min-max normalising leaves r and p as they are on the raw sensitivities."""
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
        fit = regression([values[a] for a in used], [sensitivity[a][axis]["normalised"] for a in used])
        result[name] = fit | {"abilities": used}
    return result
