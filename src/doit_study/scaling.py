"""Every set's scaling on each score (accuracy and the continuous score of doit_study.continuous):
the sensitivities to model size and to data volume with intervals that resample test items and
seeds together, the noise between seeds and between the last eligible epochs, signal-to-noise,
decision accuracy, the class, and which score the guidance reads (docs/analysis.md).

Accuracy's sensitivities are the paper's (accuracy per log N). The continuous scores of different
sets are in different units (a probability, a log-likelihood margin, nats per byte), so before they
are compared across sets (normalised, classified, regressed on features) each is divided by its
set's seed noise: a continuous sensitivity is read in noise units. Without seeds it stays undefined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from doit_study.analysis import (
    averaged_curve,
    bootstrap_alpha,
    classify,
    feature_regressions,
    features,
    fit_log_linear,
    normalise,
)
from doit_study.continuous import ability_family
from doit_study.replicates import decision_accuracy, pooled_sd, signal, signal_to_noise

SCORES = ("acc", "continuous")
AXES = ("param", "data")


def item_frame(predictions: Mapping[str, Sequence[Mapping]]) -> pd.DataFrame:
    """Per setting, set and test item: `acc` (1 or 0) and `continuous`, the latter only on the items
    of the set's majority family (the others are in other units: docs/evaluation.md)."""
    rows = [
        {
            "setting": setting,
            "ability": record["type"],
            "item": record["id"],
            "acc": float(record["correct"]),
            "continuous": record.get("continuous"),
            "family": record.get("family"),
        }
        for setting, records in predictions.items()
        for record in records
    ]
    frame = pd.DataFrame(rows, columns=["setting", "ability", "item", "acc", "continuous", "family"])
    frame["continuous"] = frame["continuous"].astype("float64")
    majority = frame.groupby(["setting", "ability"])["family"].transform(
        lambda families: (
            ability_family([f for f in families if f is not None]) if families.notna().any() else None
        )
    )
    frame.loc[frame["family"] != majority, "continuous"] = np.nan
    frame["family"] = majority
    return frame.sort_values(["setting", "ability", "item"], kind="stable").reset_index(drop=True)


def _runs(items: pd.DataFrame, grid: pd.DataFrame, ability: str, score: str) -> dict | str:
    """(parameters, data volume) -> one per-item score array per seed (items in id order), or why
    there are none. Every setting must have scored the same items: they are paired across settings."""
    scored = items[(items["ability"] == ability) & items[score].notna()]
    runs: dict[tuple[float, float], list[np.ndarray]] = {}
    ids = None
    for row in grid[grid["ability"] == ability].sort_values(["seed", "setting"]).itertuples():
        mine = scored[scored["setting"] == row.setting]
        if ids is None:
            ids = list(mine["item"])
        elif list(mine["item"]) != ids:
            return f"{row.setting} scored other {ability} items than the other settings"
        key = (float(row.parameters), float(row.data_volume))
        runs.setdefault(key, []).append(mine[score].to_numpy(dtype=float))
    if not ids:
        return f"no {score} scores"
    return runs


def _epoch_noise(epochs: Mapping[str, Mapping], settings: Sequence[str], ability: str, score: str, family):
    """The pooled standard deviation of the valid score over the eligible epochs of each setting,
    when valid is scored in the same family as test (for the continuous score)."""
    groups = []
    for name in settings:
        record = epochs[name]
        eligible = [
            e["summary"].get(ability, {}) for e in record["epochs"] if e["epoch"] >= record["min_epoch"]
        ]
        if score == "continuous" and any(e.get("continuous_family") != family for e in eligible):
            return None
        groups.append([e[score] for e in eligible if score in e])
    return pooled_sd(groups)


def _decisions(means: Mapping[tuple[float, float], float]) -> float | None:
    """Decision accuracy over pairs of data volumes: the smallest model size against the largest."""
    sizes = sorted({n for n, _ in means})
    if len(sizes) < 2:
        return None
    small = {d: v for (n, d), v in means.items() if n == sizes[0]}
    large = {d: v for (n, d), v in means.items() if n == sizes[-1]}
    return decision_accuracy(small, large)


def score_scaling(runs: Mapping, bootstrap: Mapping) -> dict:
    """One set on one score: the fits with their intervals, seed noise, signal, SNR, decisions."""
    means = {key: float(np.mean([run.mean() for run in seeds])) for key, seeds in runs.items()}
    entry: dict = {}
    for axis, name in enumerate(AXES):
        xs, ys = averaged_curve(means, axis)
        fit = fit_log_linear(xs, ys)
        if fit["defined"]:
            interval = bootstrap_alpha(
                runs, axis, bootstrap["replicates"], bootstrap["seed"], bootstrap["level"]
            )
            if interval["defined"]:
                interval["excludes_zero"] = not interval["low"] <= 0 <= interval["high"]
            fit["interval"] = interval
        entry[name] = fit | {"curve": {"x": xs, "score": ys}}
    seeds = pooled_sd([[float(run.mean()) for run in point] for point in runs.values()])
    spread = signal(list(means.values()))
    entry |= {
        "noise": {"seeds": seeds},
        "signal": spread,
        "snr": signal_to_noise(spread, seeds),
        "decision_accuracy": _decisions(means),
        "seeds_per_point": sorted({len(point) for point in runs.values()}),
    }
    return entry


def _unit(entry: Mapping, score: str) -> float | None:
    """What a sensitivity on this score is divided by before sets are compared: 1 for accuracy,
    the seed noise for the continuous score (None: not comparable)."""
    return 1.0 if score == "acc" else entry.get("noise", {}).get("seeds") or None


def compare_sets(result: dict, score: str, thresholds: Mapping[str, float]) -> None:
    """Normalised sensitivities (min-max over the sets, in comparable units), their intervals on
    the same scale, and each set's class, written into `result[set][score]`."""
    for axis in AXES:
        comparable = {}
        for name, entries in result.items():
            fit, unit = entries[score][axis], _unit(entries[score], score)
            comparable[name] = fit["alpha"] / unit if fit.get("defined") and unit else None
        scaled = normalise(comparable)
        known = [v for v in comparable.values() if v is not None]
        for name, value in scaled.items():
            fit = result[name][score][axis]
            fit["normalised"] = value
            interval = fit.get("interval", {})
            if value is not None and interval.get("defined"):
                low, span, unit = min(known), max(known) - min(known), _unit(result[name][score], score)
                fit["normalised_interval"] = [(interval[k] / unit - low) / span for k in ("low", "high")]
    for entries in result.values():
        block = entries[score]
        block["class"] = classify(
            block["param"].get("normalised"), block["data"].get("normalised"), thresholds
        )


def guidance_score(entries: Mapping[str, dict]) -> str:
    """The score with the higher signal-to-noise; accuracy when neither has one or they tie."""
    snr = {score: entries[score].get("snr") for score in SCORES if score in entries}
    best = max(snr, key=lambda s: (snr[s] if snr[s] is not None else -np.inf, s == "acc"))
    return best if snr[best] is not None else "acc"


def _chance(grid: pd.DataFrame, ability: str, score: str) -> float | None:
    values = grid.loc[
        grid["ability"] == ability, "random" if score == "acc" else "continuous_random"
    ].dropna()
    return float(values.iloc[0]) if len(values) else None


def sensitivities(
    grid: pd.DataFrame,
    items: pd.DataFrame,
    epochs: Mapping[str, Mapping],
    bootstrap: Mapping,
    thresholds: Mapping[str, float],
) -> dict[str, dict]:
    """Per set of the grid (test rows of the study table for one pool's uniform subsets): each
    score's scaling, the class on each, the score the guidance reads (`score`) and its `class`."""
    result: dict[str, dict] = {}
    settings = sorted(grid["setting"].unique())
    for ability in sorted(grid["ability"].unique()):
        entries: dict = {}
        for score in SCORES:
            runs = _runs(items, grid, ability, score)
            if isinstance(runs, str):
                entries[score] = {"defined": False, "reason": runs, "param": {}, "data": {}, "noise": {}}
                continue
            block = {"random": _chance(grid, ability, score)}
            if score == "continuous":
                mine = items[(items["ability"] == ability) & items["continuous"].notna()]
                block["family"] = str(mine["family"].iloc[0])
            block |= score_scaling(runs, bootstrap)
            block["items"] = len(next(iter(runs.values()))[0])
            block["noise"]["epochs"] = _epoch_noise(epochs, settings, ability, score, block.get("family"))
            entries[score] = block
        result[ability] = entries
    for score in SCORES:
        compare_sets(result, score, thresholds)
    for entries in result.values():
        chosen = guidance_score(entries)
        entries |= {"score": chosen, "class": entries[chosen]["class"]}
    return result


def features_on_scores(
    abilities: Sequence[str],
    single: pd.DataFrame,
    foundation: Mapping[str, float],
    sensitivity: Mapping[str, dict],
    weights: Mapping[str, float],
) -> tuple[dict, dict]:
    """Complexity and Transference on each score from the single-ability runs (test rows of the
    study table) and the foundation's metrics, and their regressions on the normalised
    sensitivities (Figure 7). Continuous scores enter in their set's noise units, as above."""
    loss = {
        row.pool.removeprefix("only-"): float(row.loss)
        for row in single.itertuples()
        if row.ability == row.pool.removeprefix("only-")
    }
    found, fits = {}, {}
    for score in SCORES:
        units = {a: _unit(sensitivity[a][score], score) for a in sensitivity}
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
            entry["missing"][ability] = "no seed noise to put its continuous score in common units"
        found[score] = entry
        fits[score] = feature_regressions({a: sensitivity[a][score] for a in sensitivity}, entry)
    return found, fits
