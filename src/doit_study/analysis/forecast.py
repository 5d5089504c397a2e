"""Forecasts with a measured error (issue 26): hide a target (the largest model size at every data
volume, or the largest data volume at every size), fit the smaller runs, predict the target, and
score the prediction against what the target's runs scored.

`runs`: one row per trained run: `foundation` (the replicate unit: a foundation, or a foundation and
fine-tuning seed where a size has one foundation trained with several seeds), the factor columns
of `COLUMNS` (`parameters`, `items` per ability, ...) and the scores `acc` and `continuous` (each
the mean over the set's test items; higher is better). Runs of one unit at one cell are averaged.
The other factors' values name a recipe (for a size target: the data volume); each recipe is
forecast at the target from its cells below it. Methods, side by side:

- `ranking`: the order of recipes at the smallest fitted scale is the predicted order at the target
  (decision accuracy only, `noise.decision_accuracy`);
- `one_step_linear`: the score against ln x per recipe, extrapolated; delta-method interval;
- `one_step_power`: y_r = E_r - A (x/x0)^-a with A, a shared by the recipes (`forecast_fits`);
  delta-method interval;
- `two_step` (accuracy): the continuous score as `one_step_power`, mapped to accuracy by a sigmoid
  with chance as its floor fitted over every fitted cell; interval by bootstrap.

Noise (`forecast_fits.ladder`): a unit's level and a run's own draw, parted by a two-way ANOVA
where the units cross cells. Delta intervals: Student's t on Satterthwaite's degrees of freedom;
the bootstrap redraws the noise as the ladder has it and refits (basic intervals, widened by t
over the normal quantile). `interval`: for the target's observed mean (the fit's error and the
target's own noise), what `inside` reads; `mean_interval`: for its true mean. `too_wide`: an
interval wider than [chance, 1] (continuous score: than the fitted cells' range), deciding nothing;
`undecided`: one holding the recipe's score at the largest fitted value (no step up told from none).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from doit_study.analysis.forecast_fits import (
    Fit,
    Ladder,
    fit_curve,
    ladder,
    line,
    power,
    power_starts,
    sigmoid,
    sigmoid_starts,
)
from doit_study.analysis.noise import decision_accuracy

COLUMNS = {
    "param": "parameters",
    "data": "items",
    "tasks": "task_count",
    "cot": "cot_ratio",
    "open": "open_ratio",
}
TARGETS = ("param", "data", "tasks")  # the counts and sizes (log scale): the shares have no power law
SCORES = ("acc", "continuous")
METHODS = {
    "acc": ("ranking", "one_step_linear", "one_step_power", "two_step"),
    "continuous": ("ranking", "one_step_linear", "one_step_power"),
}


def _quantile(level: float, df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, df))


def _delta(lad: Ladder, fit: Fit, x, sigma, cells: np.ndarray, at, k: int, level: float, j: int = 0) -> dict:
    """The prediction of recipe k at `at`; where there is noise, the delta method's intervals (the
    fitted curve's variance, plus the target's own for `interval`), Student's t on Satterthwaite's
    degrees of freedom over the noise's parts."""
    if not fit.converged:
        return {"defined": False, "reason": f"the fit failed: {fit.reason}"}
    prediction = float(np.ravel(fit.predict(at))[0])
    found = {"defined": True, "prediction": prediction}
    w = fit.weights(x, sigma, at) if lad.df else None
    if w is None:
        return found | {"interval_reason": fit.reason if lad.df else f"no noise measured ({lad.noise})"}
    # lack of fit: where the fitted points scatter about the curve more than their noise allows
    # (weighted chi-square over its degrees of freedom above 1), the curve's own error is scaled up
    # by that factor; a curve of the wrong shape then says so in its width instead of covering nothing
    inflation = _lack_of_fit(fit)
    parts = [
        (inflation * p.ms[j] * (w @ p.cells[np.ix_(cells, cells)] @ w), p.ms[j] * p.target[k], p.df)
        for p in lad.parts
    ]
    fitted, observed = sum(a for a, _, _ in parts), sum(a + b for a, b, _ in parts)
    df = observed**2 / sum((a + b) ** 2 / d for a, b, d in parts)
    half, mean_half = _quantile(level, df) * math.sqrt(observed), _quantile(level, df) * math.sqrt(fitted)
    return found | {
        "interval": [prediction - half, prediction + half],
        "mean_interval": [prediction - mean_half, prediction + mean_half],
        "df": float(df),
        "lack_of_fit": inflation,
    }


def _lack_of_fit(fit: Fit) -> float:
    dof = fit.points - len(fit.theta)
    return max(1.0, fit.cost / dof) if dof > 0 and fit.cost is not None else 1.0


def _line_fits(lad: Ladder, level: float, max_nfev: int | None) -> list[dict]:
    found = []
    for k in range(len(lad.recipes)):
        mine = np.flatnonzero(lad.r == k)
        z, y = lad.z[mine], lad.means[mine, 0]
        sigma = np.sqrt(np.diag(lad.cov(0)))[mine] if lad.df else None
        starts = [np.polyfit(np.log(z), y, 1)[::-1]] if len(set(z)) > 1 else [[y.mean(), 0.0]]
        fit = fit_curve(line(), z, y, sigma, starts, max_nfev)
        summary = fit.summary(_quantile(level, lad.parts[-1].df) if lad.df else 1.96)
        found.append(_delta(lad, fit, z, sigma, mine, [lad.z_target], k, level) | {"fit": summary})
    return found


def _power(
    lad: Ladder, y: np.ndarray, j: int, max_nfev: int | None, first=None
) -> tuple[Fit, np.ndarray, object]:
    """The shared power law of y on the scale (score j's covariance of the cells as the known sigma)."""
    recipes = len(lad.recipes)
    x, sigma = np.vstack([lad.z, lad.r]), lad.cov(j) if lad.df else None
    if len(set(lad.z)) < 3:
        reason = f"{len(set(lad.z))} fitted values: a power law needs three"
        return Fit(power(recipes), reason=reason), x, sigma
    starts = lambda: power_starts(lad.z, lad.r, y, recipes)  # noqa: E731
    return _refit(power(recipes), x, y, sigma, first, starts, max_nfev), x, sigma


def _power_fits(lad: Ladder, level: float, max_nfev: int | None) -> dict:
    fit, x, sigma = _power(lad, lad.means[:, 0], 0, max_nfev)
    every, at = np.arange(len(lad.z)), lad.at()
    targets = [_delta(lad, fit, x, sigma, every, at[:, [k]], k, level) for k in range(len(lad.recipes))]
    summary = fit.summary(_quantile(level, lad.parts[-1].df) if lad.df else 1.96)
    return {"interval_method": "delta", "fit": summary, "targets": targets}


def _refit(model, x, y, sigma, first, starts, max_nfev) -> Fit:
    """From the point fit's parameters first (a resample), then from every start."""
    found = fit_curve(model, x, y, sigma, [first], max_nfev) if first is not None else None
    return (
        found if found is not None and found.converged else fit_curve(model, x, y, sigma, starts(), max_nfev)
    )


def _bootstrap(lad: Ladder, estimate, targets: list[dict], level: float, replicates: int, seed: int) -> dict:
    """Each resample moves every fitted cell's mean by noise drawn as the ladder has it
    (`Ladder.draw`) and refits; its error is against the point prediction plus the target's own
    draw (its units' level where they are the fitted cells' too; for `interval` its runs' and new
    units' noise). Intervals: the prediction less the errors' percentiles (basic bootstrap), widened
    by Student's t over the normal quantile at each target's degrees of freedom (`df`: resamples
    take the noise as known). Failed refits are counted; more than a tail's share: no interval."""
    from scipy import stats

    if not lad.df:
        return {"interval_reason": f"no noise measured ({lad.noise})"}
    rng, failed, errors = np.random.default_rng(seed), 0, {"interval": [], "mean_interval": []}
    point = np.array([t["prediction"] for t in targets])
    for _ in range(replicates):
        moved, own, runs = lad.draw(rng)
        found = estimate(lad.means + moved)
        if found is None:
            failed += 1
            continue
        errors["interval"].append(found - point - own[:, 0] - runs[:, 0])
        errors["mean_interval"].append(found - point - (own[:, 0] if lad.shared else 0))
    tail = (1 - level) / 2
    if failed > tail * replicates:
        return {"failed_resamples": failed, "interval_reason": f"{failed} of {replicates} resamples failed"}
    for k, target in enumerate(targets):
        widen = _quantile(level, target.pop("df", math.inf)) / float(stats.norm.ppf(1 - tail))
        for key, values in errors.items():
            low, high = widen * np.quantile(np.array(values)[:, k], [tail, 1 - tail])
            target[key] = [point[k] - high, point[k] - low]
    return {"resamples": replicates, "failed_resamples": failed}


def _two_step(lad: Ladder, chance: float | None, level: float, replicates: int, seed: int, max_nfev):
    """Score 0 accuracy, score 1 the continuous score: the power law on the continuous score, the
    sigmoid from it to accuracy over every fitted cell, the prediction the sigmoid at the power
    law's; bootstrap intervals at the noise's smallest degrees of freedom (of the units' level where
    there is one: for accuracy it does not cancel as it does in a fit with a level per recipe)."""
    at = lad.at()
    sigma = lad.cov(0) if lad.df else None

    def fits(means: np.ndarray, first=(None, None)) -> tuple[Fit, Fit]:
        c, acc = means[:, 1], means[:, 0]
        step = _power(lad, c, 1, max_nfev, first[0])[0]
        starts = lambda: sigmoid_starts(c, acc, chance)  # noqa: E731
        return step, _refit(sigmoid(chance), c, acc, sigma, first[1], starts, max_nfev)

    def estimate(means: np.ndarray) -> np.ndarray | None:
        step_b, mapping_b = fits(means, (step.theta, mapping.theta))
        return mapping_b.predict(step_b.predict(at)) if step_b.converged and mapping_b.converged else None

    step, mapping = fits(lad.means)
    quantile = _quantile(level, lad.parts[-1].df) if lad.df else 1.96
    found = {"interval_method": "bootstrap", "continuous_fit": step.summary(quantile)}
    found["mapping"] = mapping.summary(quantile)
    if not (step.converged and mapping.converged):
        failed = "the continuous score's power law" if not step.converged else "the sigmoid"
        reason = step.reason if not step.converged else mapping.reason
        return found | {"defined": False, "reason": f"{failed} failed: {reason}"}
    continuous = step.predict(at)
    levels = any(lad.sds.get("unit", [0])) and "unit" in lad.dfs  # the accuracy's own level need not cancel
    df = min(lad.dfs.values()) if levels else lad.dfs.get("run", 0)
    targets = [
        {"defined": True, "prediction": float(p), "continuous": float(c), "df": df}
        for p, c in zip(mapping.predict(continuous), continuous, strict=True)
    ]
    found |= _bootstrap(lad, estimate, targets, level, replicates, seed)
    return found | {"defined": True, "targets": targets}


def _judge(lad: Ladder, target: dict, k: int, limit: float, level: float) -> dict:
    """The actual (mean over the target's units, with its t interval), the errors and the flags."""
    values = lad.target[k][:, 0]
    actual = float(values.mean())
    out = {"recipe": k, "actual": actual, "replicates": len(values)} | target
    if len(values) > 1:
        half = _quantile(level, len(values) - 1) * float(values.std(ddof=1)) / math.sqrt(len(values))
        out["actual_interval"] = [actual - half, actual + half]
    if target.get("defined"):
        error = abs(target["prediction"] - actual)
        out |= {"abs_error": error, "rel_error": error / abs(actual) if actual else None}
    if "interval" in target:
        low, high = target["interval"]
        mine = lad.r == k
        last = float(lad.means[mine, 0][np.argmax(lad.z[mine])])
        out["inside"] = bool(low <= actual <= high)
        out["too_wide"] = bool(not math.isfinite(high - low) or high - low > limit)
        out["undecided"] = bool(low <= last <= high)  # the forecast cannot tell the step up from none
    return out


@dataclass(frozen=True)
class Options:
    level: float
    replicates: int  # bootstrap resamples
    seed: int
    max_nfev: int | None  # each fit's budget of function evaluations (None: scipy's)
    methods: tuple[str, ...]


def _fitted(runs, chance, axis, recipe, score, target, lad: Ladder, o: Options) -> dict:
    found = {}
    if "one_step_linear" in o.methods:
        found["one_step_linear"] = {
            "interval_method": "delta",
            "targets": _line_fits(lad, o.level, o.max_nfev),
        }
    if "one_step_power" in o.methods:
        found["one_step_power"] = _power_fits(lad, o.level, o.max_nfev)
    if score == "acc" and "two_step" in o.methods:
        both = ladder(runs, axis, recipe, ["acc", "continuous"], target) if "continuous" in runs else ""
        if isinstance(both, str) or both.recipes != lad.recipes:
            found["two_step"] = {"defined": False, "reason": "the continuous score is missing on some cells"}
        else:
            found["two_step"] = _two_step(both, chance, o.level, o.replicates, o.seed, o.max_nfev)
    return found


def _score(runs, chance, axis, recipe, score, target, o: Options) -> dict:
    if score not in runs or runs[score].isna().all():
        return {"defined": False, "reason": f"no {score} scores"}
    lad = ladder(runs, axis, recipe, [score], target)
    if isinstance(lad, str):
        return {"defined": False, "reason": lad}
    limit = (1.0 - (chance or 0.0)) if score == "acc" else float(np.ptp(lad.means[:, 0]))
    noise = {"method": lad.noise, "df": lad.df} | {f"{k}_sd": v[0] for k, v in lad.sds.items()}
    out = {"defined": True, "noise": noise, "methods": {}}
    out["recipes"] = [dict(zip(recipe, name, strict=True)) for name in lad.recipes]
    actual = {k: float(t[:, 0].mean()) for k, t in enumerate(lad.target)}
    small = {int(k): float(m) for k, m in zip(lad.r[lad.z == 1], lad.means[lad.z == 1, 0], strict=True)}
    out["methods"]["ranking"] = {
        "defined": len(small) > 1,
        "decision_accuracy": decision_accuracy(small, actual),
        "predicted_order": sorted(small, key=lambda k: -small[k]),
        "actual_order": sorted(actual, key=lambda k: -actual[k]),
        "scale": lad.x0,
    }
    for name, method in _fitted(runs, chance, axis, recipe, score, target, lad, o).items():
        targets = [_judge(lad, t, k, limit, o.level) for k, t in enumerate(method.get("targets", []))]
        predicted = {t["recipe"]: t["prediction"] for t in targets if t.get("defined")}
        method |= {"targets": targets, "decision_accuracy": decision_accuracy(predicted, actual)}
        method.setdefault("defined", any(t.get("defined") for t in targets))
        out["methods"][name] = method
    return out


def forecast_set(
    runs: pd.DataFrame,
    chance: float | None,
    target_axis: str,
    target_value: float | None = None,
    level: float = 0.95,
    replicates: int = 200,
    seed: int = 0,
    factors: Sequence[str] = ("param", "data"),
    max_nfev: int | None = None,
    methods: Sequence[str] = METHODS["acc"],
) -> dict:
    """One set along one axis (`target_axis`: one of TARGETS) on both scores: the target is
    `target_value` (None: the largest value run), fitted from every smaller value. `chance`: the
    set's accuracy at chance (the sigmoid's floor; None: fitted). `replicates`, `seed`: the
    bootstraps. `factors`: the grid's factors; the others than the axis name the recipes. `methods`:
    which of METHODS to run (ranking always runs)."""
    axis = COLUMNS[target_axis]
    recipe = [COLUMNS[f] for f in factors if f != target_axis and COLUMNS[f] in runs]
    if target_axis not in TARGETS or axis not in runs or runs[axis].isna().all():
        return {"defined": False, "reason": f"no {axis} counts to forecast along", "axis": target_axis}
    target = float(runs[axis].max() if target_value is None else target_value)
    below = sorted(float(v) for v in runs.loc[runs[axis] < target, axis].unique())
    out = {"axis": target_axis, "column": axis, "recipe_columns": recipe, "target": target, "fitted": below}
    if not below or below[0] <= 0 or not (runs[axis] == target).any():
        return out | {"defined": False, "reason": f"no runs at {target} or none (positive) below it"}
    o = Options(level, replicates, seed, max_nfev, tuple(methods))
    scores = {s: _score(runs, chance, axis, recipe, s, target, o) for s in SCORES}
    return out | {"defined": True, "chance": chance, "level": level, "scores": scores}


def forecast_study(
    sets: Mapping[str, pd.DataFrame],
    chances: Mapping[str, float | None],
    level: float = 0.95,
    replicates: int = 200,
    seed: int = 0,
    targets: Mapping[str, float | None] | None = None,
    factors: Sequence[str] = ("param", "data"),
) -> dict:
    """Every set (name -> its runs) along every axis of `targets` (axis -> target value, None: the
    largest; default: each of `factors`), and the summary over sets."""
    targets = dict(targets) if targets is not None else dict.fromkeys(factors)
    found = {
        name: {
            axis: forecast_set(runs, chances.get(name), axis, value, level, replicates, seed, factors)
            for axis, value in targets.items()
        }
        for name, runs in sorted(sets.items())
    }
    result = {"sets": found, "level": level, "replicates": replicates, "seed": seed}
    return result | {"summary": summarise_forecasts(result)}


TABLE = ["set", "axis", "score", "method", "recipe", "defined", "prediction", "actual", "abs_error"]
TABLE += ["rel_error", "inside", "too_wide", "undecided", "interval", "actual_interval"]


def forecast_table(result: Mapping) -> pd.DataFrame:
    """One row per set, axis, score, fitted method and recipe: the forecast and how it scored."""
    rows = []
    for name, axes in result["sets"].items():
        for axis, entry in axes.items():
            for score, block in entry.get("scores", {}).items():
                for method, found in block.get("methods", {}).items():
                    for t in found.get("targets", []):
                        keys = {"set": name, "axis": axis, "score": score, "method": method}
                        rows.append(
                            [{**t, **keys, "recipe": block["recipes"][t["recipe"]]}.get(c) for c in TABLE]
                        )
    return pd.DataFrame(rows, columns=TABLE)


def summarise_forecasts(result: Mapping) -> dict:
    """Per axis, score and method: how many sets and forecasts, failed fits, mean absolute error
    (accuracy also in points), mean relative error, the intervals' coverage of the actual and how
    many were too wide, mean decision accuracy over sets; the methods with the lowest error and the
    highest decision accuracy."""
    table, out = forecast_table(result), {}
    for axes in result["sets"].values():
        for axis, entry in axes.items():
            for score, block in entry.get("scores", {}).items():
                for method, found in block.get("methods", {}).items():
                    out.setdefault(axis, {}).setdefault(score, {}).setdefault(method, []).append(found)
    for axis, scores in out.items():
        for score, methods in scores.items():
            for method, found in methods.items():
                decided = [f["decision_accuracy"] for f in found if f.get("decision_accuracy") is not None]
                methods[method] = {
                    "sets": sum(bool(f.get("defined")) for f in found),
                    "decision_accuracy": float(np.mean(decided)) if decided else None,
                    "decided_sets": len(decided),
                } | (_errors(table, axis, score, method) if method != "ranking" else {})
            errors = {m: s["mae"] for m, s in methods.items() if s.get("mae") is not None}
            decided = {
                m: s["decision_accuracy"] for m, s in methods.items() if s["decision_accuracy"] is not None
            }
            scores[score] = {
                "methods": methods,
                "best_mae": min(errors, key=errors.get) if errors else None,
                "best_decisions": max(decided, key=decided.get) if decided else None,
            }
    return out


def _errors(table: pd.DataFrame, axis: str, score: str, method: str) -> dict:
    mine = table[(table["axis"] == axis) & (table["score"] == score) & (table["method"] == method)]
    ok = mine[mine["defined"].astype(bool)]
    judged, relative = ok[ok["interval"].notna()], ok["rel_error"].dropna()
    found = {
        "forecasts": len(mine),
        "failed": len(mine) - len(ok),
        "mae": float(ok["abs_error"].mean()) if len(ok) else None,
        "mean_rel_error": float(relative.mean()) if len(relative) else None,
        "intervals": len(judged),
        "coverage": float(judged["inside"].astype(bool).mean()) if len(judged) else None,
        "too_wide": int(judged["too_wide"].astype(bool).sum()),
    }
    return found | ({"mae_points": 100 * found["mae"]} if score == "acc" and found["mae"] is not None else {})


def feature_forecast(features: pd.DataFrame, sensitivities: pd.Series) -> dict:
    """DoIT's claim as a forecast: each ability's sensitivity predicted from its features (columns
    of `features`, e.g. complexity and transference; index: abilities) by a linear regression
    (scikit-learn) fitted on the other abilities, against the mean of the other abilities."""
    from sklearn.linear_model import LinearRegression

    data = features.join(sensitivities.rename("_sensitivity"), how="inner").dropna()
    columns = list(features.columns)
    if len(data) < len(columns) + 2:
        return {"defined": False, "reason": f"{len(data)} abilities with features and a sensitivity"}
    per, x, y = {}, data[columns].to_numpy(float), data["_sensitivity"].to_numpy(float)
    for k, ability in enumerate(data.index):
        rest = np.arange(len(data)) != k
        if np.linalg.matrix_rank(np.column_stack([np.ones(rest.sum()), x[rest]])) < len(columns) + 1:
            return {"defined": False, "reason": f"without {ability} the features are collinear"}
        predicted = float(LinearRegression().fit(x[rest], y[rest]).predict(x[[k]])[0])
        constant = float(y[rest].mean())
        per[str(ability)] = {"actual": float(y[k]), "features": predicted, "constant": constant}
        per[str(ability)] |= {
            "features_error": float(abs(predicted - y[k])),
            "constant_error": float(abs(constant - y[k])),
        }
    mae = {m: float(np.mean([e[f"{m}_error"] for e in per.values()])) for m in ("features", "constant")}
    return {
        "defined": True,
        "columns": columns,
        "abilities": len(per),
        "per_ability": per,
        "mae_features": mae["features"],
        "mae_constant": mae["constant"],
        "features_better": mae["features"] < mae["constant"],
        "wins": int(sum(e["features_error"] < e["constant_error"] for e in per.values())),
    }
