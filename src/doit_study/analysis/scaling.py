"""Every set's scaling on each score (accuracy, and the continuous score of
`doit_study.evaluation.continuous`): the sensitivity along each factor of the design with its
interval from the foundations (`analysis.intervals`), the verdicts read at a controlled false
discovery rate, replicate and checkpoint noise, signal and signal-to-noise beside their null
reference, decision accuracy with its interval, the class, and which score the guidance reads
(docs/analysis.md).

Accuracy's sensitivities are the paper's (accuracy per log N). The continuous scores of different sets
are in different units (a probability, a log-likelihood margin, nats per byte), so before they are
compared across sets (classes' flat band, features, Figure 7) each is divided by its set's replicate
noise: a continuous sensitivity is read in noise units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from doit_study.analysis.factors import FACTORS
from doit_study.analysis.fits import feature_regressions, features, normalise, transform
from doit_study.analysis.intervals import benjamini_hochberg, between_units, undetermined, within_units
from doit_study.analysis.noise import checkpoint_noise, decisions, pooled_sd, signal, signal_null
from doit_study.analysis.study_table import JUDGE
from doit_study.params.analysis import AnalysisParams

SCORES = ("acc", "continuous")
AXES = ("param", "data")  # the DoIT grid's factors: the classes and Figure 7 read these two
CLASSES = {  # (size verdict, data verdict) -> class; anything else is undetermined
    ("rises", "rises"): "responsive",
    ("rises", "flat"): "parameter-biased",
    ("flat", "rises"): "data-biased",
    ("flat", "flat"): "resistant",
}


def run_scores(items: pd.DataFrame, grid: pd.DataFrame, ability: str, score: str) -> pd.DataFrame | str:
    """One row per setting of the grid: its foundation, size, parameters, factor values and `score`,
    the mean over the set's test items; or why there is none. Every setting must have scored the
    same items: they are paired across settings, so their difficulty cancels in a slope."""
    scored = items[(items["split"] == "test") & (items["ability"] == ability) & items[score].notna()]
    rows, ids = [], None
    for row in grid[grid["ability"] == ability].sort_values("setting").itertuples():
        mine = scored[scored["setting"] == row.setting]
        if ids is None:
            ids = list(mine["item"])
        elif list(mine["item"]) != ids:
            return f"{row.setting} scored other {ability} items than the other settings"
        factors = {column: getattr(row, column) for column, _ in FACTORS.values()}
        rows.append({"setting": row.setting, "foundation": row.foundation, "size": row.size} | factors)
        rows[-1]["score"] = float(mine[score].mean()) if len(mine) else None
    if not ids:
        return "no verdict of the judge could be read" if ability == JUDGE else f"no {score} scores"
    return pd.DataFrame(rows)


def axis_fit(runs: pd.DataFrame, axis: str, within: Sequence[str], level: float) -> dict:
    """The sensitivity along one factor: between foundations for model size, within each foundation
    for the others (averaged over its other factors and runs); its curve for the figures."""
    column, scale = FACTORS[axis]
    cells = runs.groupby(["foundation", *within], dropna=False)["score"].mean().reset_index()
    points = runs.groupby([column], dropna=False)["score"].mean()
    curve = {"x": [float(x) for x in points.index], "score": [float(y) for y in points]}
    fit = {"scale": scale, "curve": curve}
    if len(points) < 2:
        return fit | undetermined(f"one value of {column}")
    balanced = cells.groupby("foundation").size().nunique() == 1
    if not balanced:
        return fit | undetermined("the foundations were not all trained at the same settings")
    if axis == "param":  # one number per foundation: the mean of its cells
        means = cells.groupby("foundation")["score"].mean()
        xs = runs.groupby("foundation")[column].first().loc[means.index]
        return fit | between_units(transform(xs.tolist(), scale).tolist(), means.tolist(), level)
    curves = {}
    for name, mine in cells.groupby("foundation"):
        along = mine.groupby(column)["score"].mean()
        curves[name] = (transform([float(x) for x in along.index], scale).tolist(), along.tolist())
    return fit | within_units(curves, level)


def _checkpoints(items: pd.DataFrame, settings: Sequence[str], ability: str, score: str) -> list[list[float]]:
    """Each run's valid score at each of its scored checkpoints (the eligible ones), on the items of
    the family its test score is read in."""
    valid = items[(items["split"] == "valid") & (items["ability"] == ability) & items[score].notna()]
    valid = valid[valid["setting"].isin(settings)]
    means = valid.groupby(["setting", "epoch"])[score].mean()
    return [means.loc[name].tolist() for name in settings if name in means.index.get_level_values(0)]


def score_scaling(runs: pd.DataFrame, factors: Sequence[str], resampling: Mapping, level: float) -> dict:
    """One set on one score: each factor's fit, the noise, signal and decisions."""
    within = [FACTORS[f][0] for f in factors if f != "param"]
    entry = {f: axis_fit(runs, f, within, level) for f in factors}
    point_columns = ["parameters", *within]
    replicates = pooled_sd([mine["score"].tolist() for _, mine in runs.groupby(point_columns, dropna=False)])
    observed = signal(runs, within) if within else None
    null = signal_null(runs, within, resampling["replicates"], resampling["seed"]) if within else {}
    spread = runs.groupby(point_columns, dropna=False)["score"].mean()
    entry |= {
        "noise": {"replicates": replicates},
        "signal": {"relative": observed, "null": null, "range": float(spread.max() - spread.min())},
        "snr_replicates": (float(spread.max() - spread.min()) / replicates) if replicates else None,
        "replicates_per_point": sorted(set(runs.groupby(point_columns, dropna=False).size())),
        "decision_accuracy": decisions(runs, within, resampling["replicates"], resampling["seed"], level)
        if within
        else {"defined": False, "reason": "no factor besides model size"},
    }
    return entry


def foundations_vs_chance(items: pd.DataFrame, grid: pd.DataFrame, ability: str, alpha: float) -> dict:
    """The grid's untuned foundations on a set's test items: each item's mean over the foundations
    (the foundations answer the same items, so items, not answers, are the independent trials)
    against the set's chance level, one-sided one-sample t test (scipy); beyond chance below `alpha`."""
    from scipy import stats

    chance = _chance(grid, ability, "acc")
    names = [f"base-{f}" for f in sorted(grid["foundation"].unique())]
    mine = items[(items["setting"].isin(names)) & (items["ability"] == ability) & (items["split"] == "test")]
    if chance is None or mine.empty or not mine["acc"].isin([0.0, 1.0]).all():
        return {"defined": False, "reason": "no untuned foundation scored on these items with 0/1 outcomes"}
    per_item = mine.groupby("item")["acc"].mean()
    if per_item.std(ddof=1) > 0:
        p_value = float(stats.ttest_1samp(per_item, chance, alternative="greater").pvalue)
    else:  # every item the same: beyond chance exactly when that value is
        p_value = 0.0 if per_item.iloc[0] > chance else 1.0
    return {
        "defined": True,
        "acc": float(per_item.mean()),
        "chance": chance,
        "correct": int(mine["acc"].sum()),
        "trials": len(mine),
        "items": len(per_item),
        "foundations": len(names),
        "p_value": p_value,
        "beyond_chance": p_value < alpha,
    }


def _chance(grid: pd.DataFrame, ability: str, score: str) -> float | None:
    values = grid.loc[
        grid["ability"] == ability, "random" if score == "acc" else "continuous_random"
    ].dropna()
    return float(values.iloc[0]) if len(values) else None


def unit_of(block: Mapping, score: str) -> float | None:
    """What a sensitivity on this score is divided by before sets are compared: 1 for accuracy, the
    set's replicate noise for the continuous score (None: not comparable)."""
    return 1.0 if score == "acc" else (block.get("noise", {}).get("replicates") or None)


def read_verdicts(result: dict, factors: Sequence[str], fdr: float, flat: Mapping[str, float]) -> dict:
    """Benjamini-Hochberg over every interval of the result (sets x scores x factors), then each
    fit's verdict: rises or falls (a discovery), flat (the whole interval within the flat band), within
    noise, or undetermined; returns the correction's summary."""
    fits = {
        f"{name}.{score}.{axis}": entries[score][axis]
        for name, entries in result.items()
        for score in SCORES
        for axis in factors
        if entries[score].get(axis, {}).get("defined")
    }
    corrected = benjamini_hochberg({key: fit["p_value"] for key, fit in fits.items()}, fdr)
    for key, fit in fits.items():
        fit |= corrected[key]
    for entries in result.values():
        for score in SCORES:
            unit = unit_of(entries[score], score)
            for axis in factors:
                fit = entries[score].get(axis, {})
                fit["verdict"] = verdict(fit, flat[score] * unit if unit else None)
    return {"method": "Benjamini-Hochberg", "fdr": fdr, "intervals": len(fits)}


def verdict(fit: Mapping, band: float | None) -> str:
    if not fit.get("defined"):
        return "undetermined"
    if fit.get("discovery"):
        return "rises" if fit["alpha"] > 0 else "falls"
    if band is not None and -band < fit["low"] and fit["high"] < band:
        return "flat"
    return "within noise"


def classify(block: Mapping) -> str:
    """The class from the verdicts on model size and data volume (docs/analysis.md): falling on
    either is `declining`; the four classes of the paper where both verdicts decide; otherwise
    `undetermined` (the evidence does not decide)."""
    found = (block.get("param", {}).get("verdict"), block.get("data", {}).get("verdict"))
    if "falls" in found:
        return "declining"
    return CLASSES.get(found, "undetermined")


def guidance_score(entries: Mapping[str, dict]) -> str:
    """The score with the higher replicate signal-to-noise; accuracy when neither has one or they tie."""
    snr = {
        score: entries[score].get("snr_replicates") for score in SCORES if entries[score].get("defined", True)
    }
    usable = {s: v for s, v in snr.items() if v is not None}
    return max(usable, key=lambda s: (usable[s], s == "acc")) if usable else "acc"


def sensitivities(
    grid: pd.DataFrame, items: pd.DataFrame, analysis: AnalysisParams, factors: Sequence[str] = AXES
) -> dict:
    """Per set of the grid (test rows of the study table for one design's subsets): each score's
    scaling along `factors`, its checkpoint noise and SNR, verdicts, the class (on the DoIT grid's two
    factors), the score the guidance reads (`score`) and its `class`; and the correction's summary.
    `analysis`: the analysis params group (level, fdr, flat, resampling)."""
    result: dict[str, dict] = {}
    resampling = analysis.resampling.model_dump()
    settings = sorted(grid["setting"].unique())
    for ability in sorted(grid["ability"].unique()):
        entries: dict = {}
        for score in SCORES:
            runs = run_scores(items, grid, ability, score)
            if isinstance(runs, str):
                entries[score] = {"defined": False, "reason": runs, "noise": {}} | {
                    f: undetermined(runs) for f in factors
                }
                continue
            block = {"random": _chance(grid, ability, score)}
            if score == "continuous":
                mine = items[(items["ability"] == ability) & items["continuous"].notna()]
                block["family"] = str(mine["family"].iloc[0])
            else:
                block["foundations"] = foundations_vs_chance(items, grid, ability, analysis.artefact_p)
            block |= score_scaling(runs, factors, resampling, analysis.level)
            scored = items[(items["split"] == "test") & (items["ability"] == ability)]
            block["items"] = int(scored[scored["setting"].isin(runs["setting"])]["item"].nunique())
            block["noise"]["checkpoints"] = checkpoint_noise(_checkpoints(items, settings, ability, score))
            relative = block["signal"]["relative"]
            noise = block["noise"]["checkpoints"]
            block["snr"] = relative / noise if relative is not None and noise else None
            entries[score] = block
        result[ability] = entries
    summary = read_verdicts(result, factors, analysis.fdr, analysis.flat.model_dump())
    for entries in result.values():
        for score in SCORES:
            entries[score]["class"] = classify(entries[score])
        chosen = guidance_score(entries)
        entries |= {"score": chosen, "class": entries[chosen]["class"]}
    for score in SCORES:
        _normalise_for_figures(result, score, factors)
    return {"sets": result, "correction": summary}


def _normalise_for_figures(result: dict, score: str, factors: Sequence[str]) -> None:
    """Min-max normalised sensitivities (the paper's figures) and their intervals on that scale, in
    comparable units; figures only: classes read the verdicts."""
    for axis in factors:
        comparable = {}
        for name, entries in result.items():
            fit, unit = entries[score].get(axis, {}), unit_of(entries[score], score)
            comparable[name] = fit["alpha"] / unit if fit.get("defined") and unit else None
        scaled, known = normalise(comparable), [v for v in comparable.values() if v is not None]
        for name, value in scaled.items():
            fit = result[name][score].get(axis, {})
            fit["normalised"] = value
            if value is not None and fit.get("defined"):
                low, span, unit = min(known), max(known) - min(known), unit_of(result[name][score], score)
                fit["normalised_interval"] = [(fit[k] / unit - low) / span for k in ("low", "high")]


def features_on_scores(
    abilities: Sequence[str],
    single: pd.DataFrame,
    foundation: Mapping[str, float],
    sensitivity: Mapping[str, dict],
    weights: Mapping[str, float],
    resampling: Mapping,
) -> tuple[dict, dict]:
    """Complexity and Transference on each score from the single-ability runs (test rows of the
    study table) and their foundation's metrics, and their regressions on the sensitivities (Figure
    7). Continuous scores enter in their set's noise units, as above."""
    loss = {
        row.pool.removeprefix("only-"): float(row.loss)
        for row in single.itertuples()
        if row.ability == row.pool.removeprefix("only-")
    }
    found, fits = {}, {}
    for score in SCORES:
        units = {a: unit_of(sensitivity[a][score], score) for a in sensitivity}
        usable = [a for a in abilities if units.get(a)]
        cross: dict[str, dict[str, float]] = {}
        for row in single[single["ability"].isin(usable)].itertuples():
            value = getattr(row, score)
            if not pd.isna(value):
                cross.setdefault(row.pool.removeprefix("only-"), {})[row.ability] = value / units[row.ability]
        cross = {j: scores for j, scores in cross.items() if j in usable}
        base = {
            a: foundation[f"test.{a}.{score}"] / units[a] for a in usable if f"test.{a}.{score}" in foundation
        }
        entry = features(usable, cross, loss, base, weights)
        for ability in sorted(set(abilities) - set(usable)):
            entry["missing"][ability] = "no replicate noise to put its continuous score in common units"
        found[score] = entry
        fits[score] = feature_regressions({a: sensitivity[a][score] for a in sensitivity}, entry, resampling)
    return found, fits
