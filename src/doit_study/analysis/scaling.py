"""Every set's scaling on each score (accuracy and the continuous score of doit_study.evaluation.continuous):
the sensitivities to model size and to data volume with intervals that resample test items and
seeds together, the noise between seeds and between the last eligible epochs, signal-to-noise,
decision accuracy, the class, and which score the guidance reads (docs/analysis.md).

Accuracy's sensitivities are the paper's (accuracy per log N). The continuous scores of different
sets are in different units (a probability, a log-likelihood margin, nats per byte), so before they
are compared across sets (normalised, classified, regressed on features) each is divided by its
set's seed noise: a continuous sensitivity is read in noise units. Without seeds it stays undefined.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from doit_study.analysis.factors import FACTORS
from doit_study.analysis.fits import (
    averaged_curve,
    bootstrap_alpha,
    classify,
    feature_regressions,
    features,
    fit_log_linear,
    normalise,
    undefined,
)
from doit_study.analysis.noise import decision_accuracy, pooled_sd, signal, signal_to_noise
from doit_study.analysis.study_table import JUDGE, UNSEEN
from doit_study.evaluation.continuous import ability_family
from doit_study.evaluation.judging import SCORE

SCORES = ("acc", "continuous")
AXES = ("param", "data")  # the DoIT grid's factors: the classes and Figure 7 read these two


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


def judged_items(folder: Path, setting: str) -> list[dict]:
    """A judged setting's items as prediction records of the set `judge`: a win scores 1, a tie or
    inconsistent orders 0.5, a loss 0; items whose verdict could not be read are left out."""
    path = folder / f"{setting}.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        {"type": JUDGE, "id": row["id"], "correct": SCORE[row["outcome"]], "continuous": None}
        for row in rows
        if row["outcome"] in SCORE
    ]


def design_records(
    records: list[dict], held_out: Sequence[str], judged: list[dict], promptings: Mapping[str, list[dict]]
) -> list[dict]:
    """A setting's test records with the design sets added: each item of a held-out task again as
    an item of `unseen_tasks` (accuracy only: its families differ), the judged items, and the chain
    items under each prompting as items of `<set>.<prompting>` (the study table's rows)."""
    unseen = [
        r | {"type": UNSEEN, "continuous": None, "family": None} for r in records if r.get("task") in held_out
    ]
    prompted = [
        r | {"type": f"{r['type']}.{name}"} for name, rows in sorted(promptings.items()) for r in rows
    ]
    return [*records, *unseen, *judged, *prompted]


def _runs(
    items: pd.DataFrame, grid: pd.DataFrame, ability: str, score: str, factors: Sequence[str]
) -> dict | str:
    """Factor values (parameters, data volume, ...) -> one per-item score array per seed (items in
    id order), or why there are none. Every setting must have scored the same items: they are
    paired across settings."""
    scored = items[(items["ability"] == ability) & items[score].notna()]
    runs: dict[tuple[float, float], list[np.ndarray]] = {}
    ids = None
    for row in grid[grid["ability"] == ability].sort_values(["seed", "setting"]).itertuples():
        mine = scored[scored["setting"] == row.setting]
        if ids is None:
            ids = list(mine["item"])
        elif list(mine["item"]) != ids:
            return f"{row.setting} scored other {ability} items than the other settings"
        key = tuple(float(getattr(row, FACTORS[f][0])) for f in factors)
        runs.setdefault(key, []).append(mine[score].to_numpy(dtype=float))
    if not ids:
        return "no verdict of the judge could be read" if ability == JUDGE else f"no {score} scores"
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


def _decisions(means: Mapping[tuple, float], factors: Sequence[str]) -> float | None:
    """Decision accuracy over pairs of grid points that differ in the other factors (data volumes,
    task counts, ...): the smallest model size against the largest."""
    if factors[0] != "param":
        return None
    sizes = sorted({key[0] for key in means})
    if len(sizes) < 2:
        return None
    small = {key[1:]: v for key, v in means.items() if key[0] == sizes[0]}
    large = {key[1:]: v for key, v in means.items() if key[0] == sizes[-1]}
    return decision_accuracy(small, large)


def score_scaling(runs: Mapping, bootstrap: Mapping, factors: Sequence[str] = AXES) -> dict:
    """One set on one score: the fit along each factor with its interval, seed noise, signal, SNR,
    decisions. `runs` are keyed by the factors' values in this order."""
    means = {key: float(np.mean([run.mean() for run in seeds])) for key, seeds in runs.items()}
    entry: dict = {}
    for axis, name in enumerate(factors):
        scale = FACTORS[name][1]
        xs, ys = averaged_curve(means, axis)
        fit = fit_log_linear(xs, ys, scale) | {"scale": scale}
        if fit["defined"]:
            b = bootstrap
            interval = bootstrap_alpha(runs, axis, b["replicates"], b["seed"], b["level"], scale)
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
        "decision_accuracy": _decisions(means, factors),
        "seeds_per_point": sorted({len(point) for point in runs.values()}),
    }
    return entry


def _unit(entry: Mapping, score: str) -> float | None:
    """What a sensitivity on this score is divided by before sets are compared: 1 for accuracy,
    the seed noise for the continuous score (None: not comparable)."""
    return 1.0 if score == "acc" else entry.get("noise", {}).get("seeds") or None


def compare_sets(result: dict, score: str, thresholds: Mapping[str, float], factors: Sequence[str]) -> None:
    """Normalised sensitivities (min-max over the sets, in comparable units), their intervals on
    the same scale, and each set's class (on the DoIT grid's two factors), in `result[set][score]`."""
    for axis in factors:
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
            block.get("param", {}).get("normalised"), block.get("data", {}).get("normalised"), thresholds
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
    factors: Sequence[str] = AXES,
) -> dict[str, dict]:
    """Per set of the grid (test rows of the study table for one design's subsets): each score's
    scaling along `factors`, the class on each, the score the guidance reads (`score`) and its
    `class` (undefined outside the DoIT grid, whose two factors the classes read)."""
    result: dict[str, dict] = {}
    settings = sorted(grid["setting"].unique())
    for ability in sorted(grid["ability"].unique()):
        entries: dict = {}
        for score in SCORES:
            runs = _runs(items, grid, ability, score, factors)
            if isinstance(runs, str):
                fits = {f: undefined(runs) for f in factors}
                entries[score] = {"defined": False, "reason": runs, "noise": {}} | fits
                continue
            block = {"random": _chance(grid, ability, score)}
            if score == "continuous":
                mine = items[(items["ability"] == ability) & items["continuous"].notna()]
                block["family"] = str(mine["family"].iloc[0])
            block |= score_scaling(runs, bootstrap, factors)
            block["items"] = len(next(iter(runs.values()))[0])
            block["noise"]["epochs"] = _epoch_noise(epochs, settings, ability, score, block.get("family"))
            entries[score] = block
        result[ability] = entries
    for score in SCORES:
        compare_sets(result, score, thresholds, factors)
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
