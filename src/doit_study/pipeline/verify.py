"""`python -m doit_study verify`: the numbers of metrics/ listed below and the README's results recomputed
from what git holds (the per-item tables metrics/items.csv and metrics/mix_items.csv, the committed
params), through the same code the stages ran; it names each number that differs.

What it checks, in the order the numbers were made:
- each setting's, foundation's and mix's metrics file: every test set's accuracy and continuous
  score, the benchmarks', and `overall`, against the means of its items;
- metrics/study.csv: every test row's accuracy and continuous score, against the same means;
- metrics/sensitivity.json, features.json and regression.json: the analysis rerun;
- metrics/forecast.json: the forecasts rerun;
- metrics/mixes.json and metrics/report.md: the report rebuilt (in a clone without `data/raw`, the
  report's line naming the raw snapshot's hash is left out of the comparison);
- the README's results section: rendered again from the metrics.

Taken as given (read, not recomputed): the study table's `loss`, `random` and `continuous_random`
columns, the metrics files' `valid.*`, `budget.*`, `best_epoch` and `train_examples`, the plot
tables, metrics/derivation.json and metrics/judge.json. The forecasts' fits start from several
points: on another processor a fit may land elsewhere in the last digits, and verify names it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from doit_study.analysis.forecast_inputs import study_forecast
from doit_study.analysis.item_table import read_items_table
from doit_study.analysis.readme_results import README_RESULTS, readme_block, results_markdown
from doit_study.analysis.study_results import (
    ReportFiles,
    analyse_study,
    build_report,
    design_grid,
    single_foundation,
)
from doit_study.analysis.study_table import read_study
from doit_study.core.files import read_json
from doit_study.params.study import StudyParams

TOLERANCE = 1e-9  # a mean recomputed in another order differs in the last bits, nothing more
_SET_KEY = re.compile(r"^(test|valid)\.([^.]+)\.(acc|continuous)$")
_BENCHMARK_KEY = re.compile(r"^benchmark\.([^.]+)\.(\d+shot)\.(acc|continuous)$")


def same_number(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if not isinstance(a, int | float):
        return a == b
    if not isinstance(b, int | float):
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def json_differences(found, expected, where: str) -> list[str]:
    """Every leaf where the file's value is not the recomputed one, by its path."""
    if isinstance(expected, Mapping) and isinstance(found, Mapping):
        keys = sorted(set(found) | set(expected), key=str)
        return [d for k in keys for d in json_differences(found.get(k), expected.get(k), f"{where}.{k}")]
    if isinstance(expected, list) and isinstance(found, list) and len(found) == len(expected):
        return [
            d
            for k, (f, e) in enumerate(zip(found, expected, strict=True))
            for d in json_differences(f, e, f"{where}[{k}]")
        ]
    if same_number(found, expected):
        return []
    return [f"{where}: the file says {found!r}, recomputed {expected!r}"]


def metric_keys(items: pd.DataFrame, setting: str, epochs: Mapping[str, int]) -> dict[str, float]:
    """A setting's per-set means from its items, under the keys of its metrics file; `epochs` maps
    each split to the epoch its file reports (test and the benchmarks: the selected one)."""
    mine = items[items["setting"] == setting]
    keys: dict[str, float] = {}
    for (split, epoch, ability), rows in mine.groupby(["split", "epoch", "ability"], dropna=False):
        if split == "valid" and epoch != epochs.get("valid"):
            continue
        prefix = (
            f"{split}.{ability}"
            if split in ("test", "valid")
            else f"benchmark.{ability}.{split.split('.')[1]}"
        )
        keys[f"{prefix}.acc"] = float(rows["acc"].mean())
        if rows["continuous"].notna().any():
            keys[f"{prefix}.continuous"] = float(rows["continuous"].mean())
    return keys


def metrics_differences(items: pd.DataFrame, setting: str, metrics: Mapping, where: str) -> list[str]:
    """A metrics file's set scores and `overall` against its items (the design sets a study adds,
    judged or prompted, are in the study table only)."""
    if not (items["setting"] == setting).any():
        return [f"{where}: no items of {setting} in the item table"]
    recomputed = metric_keys(items, setting, {"valid": metrics.get("best_epoch")})
    found = {k: v for k, v in metrics.items() if _SET_KEY.match(k) or _BENCHMARK_KEY.match(k)}
    problems = [
        f"{where}: {key} is {value!r}, its items give {recomputed.get(key)!r}"
        for key, value in sorted(found.items())
        if key.startswith(("test.", "benchmark.")) and not same_number(value, recomputed.get(key))
    ]
    if "overall" in metrics:
        sets = [k for k in found if k.startswith("test.") and k.endswith(".acc")]
        overall = math.fsum(recomputed.get(k, math.nan) for k in sets) / len(sets)
        if not same_number(metrics["overall"], overall):
            problems.append(f"{where}: overall is {metrics['overall']!r}, its items give {overall!r}")
    return problems


def verify_items(metrics_dir: Path, items: pd.DataFrame, mix_items: pd.DataFrame) -> list[str]:
    problems = []
    for path in sorted((metrics_dir / "settings").glob("*.json")):
        problems += metrics_differences(items, path.stem, read_json(path), str(path))
    for path in sorted((metrics_dir / "foundations").glob("*.json")):
        problems += metrics_differences(items, f"base-{path.stem}", read_json(path), str(path))
    for path in sorted((metrics_dir / "mixes").glob("*.json")):
        problems += metrics_differences(mix_items, f"mix-{path.stem}", read_json(path), str(path))
    return problems


def study_differences(study: pd.DataFrame, items: pd.DataFrame) -> list[str]:
    """The study table's test rows against their items (the sets the items hold)."""
    test = items[items["split"] == "test"]
    means = test.groupby(["setting", "ability"])[["acc", "continuous"]].mean()
    problems = []
    for row in study[study["split"] == "test"].itertuples():
        if (row.setting, row.ability) not in means.index:
            continue  # a judged win rate or an unseen-task score: its items are in the table under their set
        for score in ("acc", "continuous"):
            expected = means.loc[(row.setting, row.ability), score]
            found = getattr(row, score)
            if not (pd.isna(found) and pd.isna(expected)) and not same_number(found, float(expected)):
                where = f"metrics/study.csv: {row.setting} {row.ability} {score}"
                problems.append(f"{where} is {found!r}, its items give {expected!r}")
    return problems


def verify_study(root: Path, params: StudyParams) -> list[str]:
    """Every difference found, named; empty when every number recomputes."""
    metrics = root / "metrics"
    items = read_items_table(metrics / "items.csv")
    problems = verify_items(metrics, items, read_items_table(metrics / "mix_items.csv"))
    study = read_study(metrics / "study.csv")
    problems += study_differences(study, items)
    foundation = single_foundation(study)
    record = read_json(metrics / "foundations" / f"{foundation}.json") if foundation else {}
    for name, value in analyse_study(study, items, record, params.analysis).items():
        problems += json_differences(
            read_json(metrics / f"{name}.json"), _round_trip(value), f"metrics/{name}.json"
        )
    problems += forecast_differences(metrics, study, items, params)
    files = ReportFiles(
        study=metrics / "study.csv",
        plots=metrics / "plots",
        analysis=metrics,
        figures=metrics / "figures",
        settings=metrics / "settings",
        derivation=metrics / "derivation.json",
        mix_metrics=metrics / "mixes",
        raw_manifest=root / "data/raw/manifest.json",
        judge=metrics / "judge.json",
        forecast=metrics / "forecast.json",
    )
    table, markdown = build_report(files, params.analysis, params.mixes, params.train.settings)
    problems += json_differences(read_json(metrics / "mixes.json"), _round_trip(table), "metrics/mixes.json")
    report = (metrics / "report.md").read_text(encoding="utf-8")
    if not files.raw_manifest.is_file():  # a clone without the raw snapshot: its hash is not here
        report, markdown = (_without_raw_source(text) for text in (report, markdown))
    problems += text_differences(report, markdown, "metrics/report.md")
    readme = (root / "README.md").read_text(encoding="utf-8")
    problems += text_differences(
        readme_block(readme),
        results_markdown(metrics, params.analysis.level),
        f"README.md ({README_RESULTS})",
    )
    return problems


def forecast_differences(
    metrics: Path, study: pd.DataFrame, items: pd.DataFrame, params: StudyParams
) -> list[str]:
    """metrics/forecast.json: the forecast rerun (its bootstrap is seeded)."""
    analysis = {name: read_json(metrics / f"{name}.json") for name in ("sensitivity", "features")}
    found = study_forecast(items, design_grid(study, params.analysis), params.forecast, analysis)
    return json_differences(read_json(metrics / "forecast.json"), _round_trip(found), "metrics/forecast.json")


def text_differences(found: str | None, expected: str, where: str) -> list[str]:
    if found is None:
        return [f"{where}: not found"]
    for number, (a, b) in enumerate(zip(found.splitlines(), expected.splitlines(), strict=False), 1):
        if a != b:
            return [f"{where} line {number}: the file says {a!r}, recomputed {b!r}"]
    if len(found.splitlines()) != len(expected.splitlines()):
        return [f"{where}: {len(found.splitlines())} lines, recomputed {len(expected.splitlines())}"]
    return []


def _without_raw_source(report: str) -> str:
    return "\n".join(line for line in report.splitlines() if not line.startswith("- data source:"))


def _round_trip(value):
    """As the stage's file holds it (JSON turns tuples into lists, NaN stays NaN)."""
    return json.loads(json.dumps(value))
