"""The README's results section, rendered from metrics/ and nothing else: written by
`python -m doit_study results --write`, checked by `python -m doit_study verify`. A number in it
that is not in the metrics cannot be typed in, because the next check would overwrite or refuse it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from doit_study.analysis.findings import (
    artefact_flags,
    effect_sentences,
    findings_list,
    mix_changes,
    regression_cell,
    set_findings,
)
from doit_study.analysis.forecast_report import error_table, feature_lines
from doit_study.analysis.study_table import read_frame
from doit_study.core.files import DataError, atomic_file, read_json

README_RESULTS = "results generated from metrics/"
BEGIN = f"<!-- {README_RESULTS}: `python -m doit_study results --write`; `verify` checks it -->"
END = "<!-- end of generated results -->"


def readme_block(readme: str) -> str | None:
    """The generated block of a README (between its markers), or None."""
    if BEGIN not in readme or END not in readme:
        return None
    return readme.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def with_results(readme: str, block: str, where: Path) -> str:
    if readme_block(readme) is None:
        raise DataError(where, f"no generated results block: add the lines {BEGIN} and {END}")
    head, rest = readme.split(BEGIN, 1)
    return f"{head}{BEGIN}\n{block}\n{END}{rest.split(END, 1)[1]}"


def overall_table(overall: pd.DataFrame) -> list[str]:
    """Overall test accuracy per size (rows) and items per ability (columns): the replicate mean
    and its lowest and highest replicate."""
    volumes = sorted(overall["n_per_ability"].unique())
    lines = [
        "| size | " + " | ".join(f"n{int(n)}" for n in volumes) + " |",
        "| --- |" + " --- |" * len(volumes),
    ]
    for series, rows in overall.groupby("series", sort=False):
        cells = []
        for n in volumes:
            row = rows[rows["n_per_ability"] == n]
            if row.empty:
                cells.append("–")
                continue
            row = row.iloc[0]
            spread = f" [{row['seed_min']:.3f}, {row['seed_max']:.3f}]" if row["seeds"] > 1 else ""
            cells.append(f"{row['overall']:.3f}{spread}")
        lines.append(f"| {series} | " + " | ".join(cells) + " |")
    return lines


def results_markdown(metrics: Path, level: float) -> str:
    """The block, from metrics/sensitivity.json, regression.json, plots/overall.csv, mixes.json and,
    where the study forecasts, forecast.json."""
    sensitivity = read_json(metrics / "sensitivity.json")
    sets, correction = sensitivity["sets"], sensitivity["correction"]
    regressions = read_json(metrics / "regression.json")
    lines = ["What `metrics/report.md` leads with:", ""]
    lines += [f"- {line}" for line in effect_sentences(sets, correction, level)]
    found = findings_list(sets)
    lines += ["", f"Findings that survive ({len(found)}):", ""]
    lines += [f"- {line}" for line in found] or ["- none"]
    flags = artefact_flags(sets)
    lines += ["", "Sets flagged as possible artefacts:", ""]
    lines += [f"- {line}" for line in flags] or ["- none: no untuned foundation scores beyond chance"]
    lines += ["", "Each set's class, on the score with the higher replicate signal-to-noise:", ""]
    lines += [f"- {set_findings(name, entry)}" for name, entry in sorted(sets.items())]
    lines += [
        "",
        "Figure 7 (over abilities): Complexity against size sensitivity: "
        + regression_cell(regressions, "complexity_vs_param")
        + ". Transference against data sensitivity: "
        + regression_cell(regressions, "transference_vs_data")
        + ".",
    ]
    mixes = read_json(metrics / "mixes.json") if (metrics / "mixes.json").is_file() else {}
    if mixes:
        lines += ["", "Derived mixes against the Baseline, paired by replicate: " + mix_changes(mixes) + "."]
    forecast = read_json(metrics / "forecast.json") if (metrics / "forecast.json").is_file() else {}
    if forecast.get("summary"):
        lines += [
            "",
            "Forecasts of the held-out targets from the smaller runs (`metrics/forecast.json`):",
            "",
        ]
        lines += error_table(forecast["summary"])
        lines += ["", *[f"- {line}" for line in feature_lines(forecast.get("features", {}))]]
    lines += ["", "Overall test accuracy (replicate mean [lowest, highest]):", ""]
    lines += overall_table(read_frame(metrics / "plots" / "overall.csv"))
    return "\n".join(lines)


def write_readme_results(readme: Path, metrics: Path, level: float) -> bool:
    """Rewrite the README's block; True when it changed."""
    text = readme.read_text(encoding="utf-8")
    updated = with_results(text, results_markdown(metrics, level), readme)
    if updated != text:
        with atomic_file(readme) as tmp:
            tmp.write_text(updated, encoding="utf-8")
    return updated != text
