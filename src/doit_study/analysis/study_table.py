"""The study across settings, as pandas frames: the long table (metrics/study.csv, one row per setting,
split and set) and the plot tables that `dvc plots` and the figures draw: Figure 1 (overall score)
and Figures 2-6 (each set's accuracy and continuous score) against items per ability, one line per
model size and pool, each point the mean over the seeds of that position with their spread (lowest
and highest seed); and the validation score per epoch. Values are drawn as measured, unsmoothed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from doit_study.core.files import DataError, atomic_file
from doit_study.core.schema import display_name, split_data_seed

CURVE = ["series", "parameters", "n_per_ability", "data_volume"]  # one plot point per line and position on it
SPREAD = ["seed_min", "seed_max", "seeds"]


UNSEEN, JUDGE = "unseen_tasks", "judge"  # sets of the FLAN and LIMIT designs (docs/designs.md)


def study_frame(
    settings: Mapping[str, Mapping],
    index: Mapping,
    metrics: Mapping[str, Mapping],
    unseen: Mapping[str, dict | None] | None = None,
    judged: Mapping[str, dict] | None = None,
) -> pd.DataFrame:
    """settings: name -> {size, subset, seed}; metrics: name -> that setting's metrics file;
    unseen: name -> {acc, random} on the held-out tasks; judged: name -> {acc: its win rate}."""
    rows = []
    for name in sorted(settings):
        factors = subset_factors(settings[name]["subset"], index)
        found = study_rows(name, settings[name], factors, metrics[name])
        rows += found
        test = next(r for r in found if r["split"] == "test")
        blank = {"acc": None, "random": None, "loss": None, "continuous": None, "continuous_random": None}
        for ability, scores in ((UNSEEN, (unseen or {}).get(name)), (JUDGE, (judged or {}).get(name))):
            if scores is not None:
                rows.append(test | blank | {"ability": ability, "label": display_name(ability)} | scores)
    return pd.DataFrame(rows, columns=list(STUDY_COLUMNS)).astype(STUDY_COLUMNS)


def unseen_scores(records: list[Mapping], held_out: list[str]) -> dict | None:
    """Accuracy over the test items of the held-out tasks (every item once) and its chance level."""
    picked = [r for r in records if r.get("task") in held_out]
    if not picked:
        return None
    return {
        "acc": sum(bool(r["correct"]) for r in picked) / len(picked),
        "random": sum(r["chance"] for r in picked) / len(picked),
    }


def seed_points(frame: pd.DataFrame, value: str, by: list[str]) -> pd.DataFrame:
    """One point per group of settings that differ only in their seed: the mean of `value` over
    them, the lowest and highest seed's value and how many seeds there are."""
    grouped = frame.groupby(by, sort=True, dropna=False)[value]
    points = grouped.agg(["mean", "min", "max", "count"]).reset_index()
    return points.rename(columns={"mean": value, "min": "seed_min", "max": "seed_max", "count": "seeds"})


def plot_tables(frame: pd.DataFrame, overall: Mapping[str, float], epochs: Mapping[str, Mapping]) -> dict:
    """The plot tables of the uniform subsets (the scaling grid): `overall` (Figure 1), `acc` and
    `continuous` (one frame per score, column `ability`: Figures 2-6), and `valid_by_epoch`."""
    grid = frame[(frame["kind"] == "uniform") & (frame["split"] == "test")].copy()
    grid["series"] = grid["size"] + " " + grid["pool"]
    tables = {}
    per_setting = grid.groupby(["setting", *CURVE], sort=True)
    whole = per_setting["random"].mean().reset_index()  # overall's guessing level: the mean of its sets'
    whole["overall"] = whole["setting"].map(overall)
    points = seed_points(whole, "overall", CURVE)
    points["random"] = seed_points(whole, "random", CURVE)["random"]
    tables["overall"] = points[[*CURVE, "overall", *SPREAD, "random"]]
    for score, chance in (("acc", "random"), ("continuous", "continuous_random")):
        scored = grid[grid[score].notna()]
        points = seed_points(scored, score, ["ability", "label", *CURVE])
        points["random"] = seed_points(scored, chance, ["ability", "label", *CURVE])[chance]
        tables[score] = points[["ability", "label", *CURVE, score, *SPREAD, "random"]]
    curves = [
        {"series": name, "epoch": e["epoch"], "valid_score": e["valid_score"]}
        for name in sorted(epochs)
        for e in epochs[name]["epochs"]
    ]
    tables["valid_by_epoch"] = pd.DataFrame(curves, columns=["series", "epoch", "valid_score"])
    return tables


def csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def write_frame(path: os.PathLike | str, frame: pd.DataFrame) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(csv_text(frame), encoding="utf-8")


def read_frame(path: os.PathLike | str, dtypes: Mapping[str, str] | None = None) -> pd.DataFrame:
    if not Path(path).is_file():
        raise DataError(path, "missing: run the study stage first")
    return pd.read_csv(path, dtype=dict(dtypes) if dtypes else None, keep_default_na=True)


def read_study(path: os.PathLike | str) -> pd.DataFrame:
    """metrics/study.csv with its column types; a file without the expected columns is refused."""
    frame = read_frame(path)
    missing = [c for c in STUDY_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(path, f"no column {missing[0]!r}: written by an older study stage, rerun it")
    return frame[list(STUDY_COLUMNS)].astype(STUDY_COLUMNS)


def write_tables(
    study: pd.DataFrame, tables: Mapping[str, pd.DataFrame], study_csv: Path, plots: Path
) -> None:
    write_frame(study_csv, study)
    write_frame(plots / "overall.csv", tables["overall"])
    write_frame(plots / "valid_by_epoch.csv", tables["valid_by_epoch"])
    for score, folder in (("acc", "abilities"), ("continuous", "abilities_continuous")):
        for ability, rows in tables[score].groupby("ability", sort=True):
            write_frame(plots / folder / f"{ability}.csv", rows.drop(columns="ability"))


def subset_factors(name: str, index: Mapping) -> dict:
    """Pool, items per ability and data volume of a subset, from the subsets index."""
    entry = index["subsets"][name]
    data_seed = entry.get("data_seed", 0)
    if entry["kind"] in ("uniform", "single_ability"):  # <pool>-n<items per ability>[-d<data seed>]
        pool, n = split_data_seed(name)[0].rsplit("-n", 1)
        per_ability: int | None = int(n)
    else:
        pool, per_ability = name, None
    found = {"pool": pool, "n_per_ability": per_ability, "data_volume": entry["total"], "kind": entry["kind"]}
    return found | {"data_seed": data_seed} | {factor: entry.get(factor) for factor in DESIGN_FACTORS}


DESIGN_FACTORS = ("task_count", "cot_ratio", "open_ratio")  # FLAN's and LIMIT's (docs/designs.md)


# the study table's columns and their types (metrics/study.csv; empty cells are missing values)
STUDY_COLUMNS = {
    "setting": "string",
    "size": "string",
    "foundation": "string",  # the foundation model (the unit of replication: docs/analysis.md)
    "seed": "int64",  # the fine-tuning seed
    "data_seed": "int64",  # the subset's draw (expand.data_seeds)
    "parameters": "int64",
    "pool": "string",
    "kind": "string",
    "n_per_ability": "Int64",  # none for a mix
    "data_volume": "int64",
    "task_count": "Int64",  # FLAN: tasks trained (none outside task-count subsets)
    "cot_ratio": "float64",  # FLAN: share of chain items trained with their chain
    "open_ratio": "float64",  # LIMIT: open-ended share of the data
    "best_epoch": "int64",
    "split": "string",
    "ability": "string",
    "label": "string",
    "acc": "float64",
    "random": "float64",
    "loss": "float64",
    "continuous": "float64",
    "continuous_random": "float64",  # none for the bytes family: a likelihood has no guessing rate
}


def study_rows(setting: str, spec: Mapping, factors: Mapping, metrics: Mapping) -> list[dict]:
    """One row per split x set of a setting (valid and test at the best checkpoint). `spec` is the
    setting's params entry (foundation, subset, seed) with its foundation's size."""
    rows = []
    for key, value in metrics.items():
        split, _, rest = key.partition(".")
        if split not in ("valid", "test") or not rest.endswith(".acc"):
            continue
        ability = rest.removesuffix(".acc")
        prefix = f"{split}.{ability}"
        rows.append(
            {
                "setting": setting,
                "size": spec["size"],
                "foundation": spec["foundation"],
                "seed": spec["seed"],
                "data_seed": factors["data_seed"],
                "parameters": metrics["parameters"],
                **{k: factors[k] for k in ("pool", "kind", "n_per_ability", "data_volume", *DESIGN_FACTORS)},
                "best_epoch": metrics["best_epoch"],
                "split": split,
                "ability": ability,
                "label": display_name(ability),
                "acc": value,
                "random": metrics.get(f"test.{ability}.random"),
                "loss": metrics.get(f"{prefix}.loss"),
                "continuous": metrics.get(f"{prefix}.continuous"),
                "continuous_random": metrics.get(f"{prefix}.continuous_random"),
            }
        )
    return rows
