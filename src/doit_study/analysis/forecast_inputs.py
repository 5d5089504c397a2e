"""What the forecast stage feeds `analysis.forecast`: each set's runs (one row per setting of the
fitted grid: its foundation, parameters, items per ability, and its mean test scores from the item
table), each set's chance, the targets in the grid's units, and DoIT's own claim as a forecast
(Complexity and Transference against the size and data sensitivities)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from doit_study.analysis.forecast import feature_forecast, forecast_study
from doit_study.analysis.scaling import SCORES, unit_of
from doit_study.core.files import DataError


def set_runs(items: pd.DataFrame, grid: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per set: one row per setting with `foundation`, `parameters`, `items` (per ability) and the
    mean `acc` and `continuous` over the set's test items."""
    test = items[items["split"] == "test"]
    means = test.groupby(["setting", "ability"])[list(SCORES)].mean().reset_index()
    columns = ["setting", "ability", "foundation", "parameters", "n_per_ability"]
    merged = grid[columns].merge(means, on=["setting", "ability"], how="inner")
    merged = merged.rename(columns={"n_per_ability": "items"})
    return {
        name: rows.drop(columns="ability").reset_index(drop=True) for name, rows in merged.groupby("ability")
    }


def chances(grid: pd.DataFrame) -> dict[str, float | None]:
    """Each set's accuracy at chance (the study table's `random`; None where a set has none)."""
    found = grid.groupby("ability")["random"].mean()
    return {name: (None if pd.isna(value) else float(value)) for name, value in found.items()}


def target_values(grid: pd.DataFrame, size: str | None, n_per_ability: int | None) -> dict[str, float | None]:
    """The targets in the runs' units: the parameters of model size `size`, `n_per_ability` items."""
    targets: dict[str, float | None] = {}
    if size is not None:
        found = grid.loc[grid["size"] == size, "parameters"].unique()
        if len(found) != 1:
            raise DataError(
                "params.yaml", f"no trained setting of size {size!r} on the grid", None, "forecast.size"
            )
        targets["param"] = float(found[0])
    if n_per_ability is not None:
        if not (grid["n_per_ability"] == n_per_ability).any():
            message = f"no trained setting with {n_per_ability} items per ability on the grid"
            raise DataError("params.yaml", message, None, "forecast.n_per_ability")
        targets["data"] = float(n_per_ability)
    return targets


def features_as_forecast(features: Mapping, sensitivity: Mapping) -> dict:
    """Per score: Complexity -> the size sensitivity and Transference -> the data sensitivity, each
    ability predicted from the others (leave one out) against the others' mean. Continuous
    sensitivities in their set's replicate-noise units, as in Figure 7."""
    found = {}
    for score in SCORES:
        values = {}
        for axis in ("param", "data"):
            column = {}
            for name, entry in sensitivity.items():
                fit, unit = entry[score].get(axis, {}), unit_of(entry[score], score)
                if fit.get("defined") and unit:
                    column[name] = fit["alpha"] / unit
            values[axis] = pd.Series(column, dtype=float)
        table = features.get(score, {})
        numbers = {  # a feature that could not be computed holds its reason, not numbers
            feature: {a: v for a, v in (table.get(feature) or {}).items() if isinstance(v, int | float)}
            for feature in ("complexity", "transference")
            if isinstance(table.get(feature), dict)
        }
        pairs = {
            "complexity_vs_param": ("complexity", "param"),
            "transference_vs_data": ("transference", "data"),
        }
        found[score] = {
            key: feature_forecast(
                pd.DataFrame({feature: pd.Series(numbers.get(feature, {}), dtype=float)}), values[axis]
            )
            for key, (feature, axis) in pairs.items()
        }
    return found


def study_forecast(items: pd.DataFrame, grid: pd.DataFrame, params, analysis: Mapping) -> dict:
    """metrics/forecast.json: every set's forecasts at the targets of `params` (the forecast
    group), the summary over sets, and the features as a forecast (`analysis`: the analyse stage's
    sensitivity.json and features.json, by name)."""
    targets = target_values(grid, params.size, params.n_per_ability)
    reps = params.resampling
    runs = set_runs(items, grid)
    found = forecast_study(runs, chances(grid), params.level, reps.replicates, reps.seed, targets)
    found["features"] = features_as_forecast(analysis["features"], analysis["sensitivity"]["sets"])
    return found
