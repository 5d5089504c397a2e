"""The study across settings: the long table (metrics/study.csv) and the plot tables that
`dvc plots` draws (Figure 1: overall score against data volume per model size and pool; Figures 2-6:
each ability's test score; the validation score per epoch). Values are drawn as measured, unsmoothed.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from doit_study.io import DataError, atomic_file
from doit_study.results import STUDY_COLUMNS, study_rows, subset_factors


def csv_text(rows: Sequence[Mapping], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_csv(path: os.PathLike | str) -> list[dict]:
    if not Path(path).is_file():
        raise DataError(path, "missing: run the study stage first")
    with Path(path).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: os.PathLike | str, rows: Sequence[Mapping], columns: Sequence[str]) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(csv_text(rows, columns), encoding="utf-8")


def build_tables(
    settings: Mapping[str, Mapping],
    index: Mapping,
    metrics: Mapping[str, Mapping],
    epochs: Mapping[str, Mapping],
) -> dict[str, list[dict]]:
    """settings: name -> {size, subset}; metrics and epochs: name -> that setting's files."""
    study, overall, abilities, curves = [], [], [], []
    for name in sorted(settings):
        size, subset = settings[name]["size"], settings[name]["subset"]
        factors = subset_factors(subset, index)
        rows = study_rows(name, size, factors, metrics[name])
        study += rows
        series = f"{size} {factors['pool']}"
        if factors["kind"] == "uniform":  # the scaling curves: one line per size and pool
            overall.append(
                {"series": series, "data_volume": factors["data_volume"], "overall": metrics[name]["overall"]}
            )
            abilities += [
                {"ability": r["ability"], "series": series, "data_volume": r["data_volume"], "acc": r["acc"]}
                for r in rows
                if r["split"] == "test"
            ]
        curves += [
            {"series": name, "epoch": e["epoch"], "valid_score": e["valid_score"]}
            for e in epochs[name]["epochs"]
        ]
    return {
        "study": study,
        "overall": sorted(overall, key=by_curve),
        "abilities": sorted(abilities, key=lambda row: (row["ability"], *by_curve(row))),
        "valid_by_epoch": sorted(curves, key=by_curve),
    }


def by_curve(row: Mapping) -> tuple:
    """Plot rows grouped by line, then in order along the x axis."""
    return (row["series"], row.get("data_volume", row.get("epoch")))


def write_tables(tables: Mapping[str, list[dict]], study_csv: Path, plots_dir: Path) -> None:
    write_csv(study_csv, tables["study"], STUDY_COLUMNS)
    write_csv(plots_dir / "overall.csv", tables["overall"], ("series", "data_volume", "overall"))
    write_csv(plots_dir / "valid_by_epoch.csv", tables["valid_by_epoch"], ("series", "epoch", "valid_score"))
    by_ability: dict[str, list[dict]] = {}
    for row in tables["abilities"]:
        by_ability.setdefault(row["ability"], []).append({k: v for k, v in row.items() if k != "ability"})
    for ability, rows in sorted(by_ability.items()):
        write_csv(plots_dir / "abilities" / f"{ability}.csv", rows, ("series", "data_volume", "acc"))
