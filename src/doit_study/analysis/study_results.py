"""The analysis's results from its inputs, one function each, called by the stages that write them
(analyse, report) and by `python -m doit_study verify`, which recomputes them from the committed
tables and params: one code path, so a recomputed number can differ only if a file was changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from doit_study.analysis.factors import DESIGNS
from doit_study.analysis.figures import DESIGN_PANELS, design_points
from doit_study.analysis.findings import budget_limits, run_limits
from doit_study.analysis.mixes import mix_table
from doit_study.analysis.report import ReportInputs, report_markdown
from doit_study.analysis.scaling import features_on_scores, sensitivities
from doit_study.analysis.study_table import read_frame, read_study
from doit_study.core.files import DataError, read_json, sha256_file
from doit_study.core.schema import ABILITIES, data_seed_name, split_data_seed
from doit_study.params.analysis import AnalysisParams
from doit_study.params.mixes import MixesParams


def design_grid(study: pd.DataFrame, params: AnalysisParams) -> pd.DataFrame:
    """The test rows of the grid the analysis fits (the design's kind; for DoIT, one pool)."""
    kind = DESIGNS[params.design][0]
    test = study[study["split"] == "test"]
    return test[(test["kind"] == kind) & ((test["pool"] == params.pool) | (kind != "uniform"))]


def single_foundation(study: pd.DataFrame) -> str | None:
    """The foundation the single-ability runs share (Complexity and Transference are read on one)."""
    single = study[(study["split"] == "test") & (study["kind"] == "single_ability")]
    foundations = sorted(single["foundation"].unique())
    if len(foundations) > 1:
        message = f"single-ability runs use several foundations {foundations}"
        raise DataError("params.yaml", message, None, "train.settings")
    return foundations[0] if foundations else None


def analyse_study(
    study: pd.DataFrame, items: pd.DataFrame, foundation: Mapping, params: AnalysisParams
) -> dict[str, dict]:
    """metrics/sensitivity.json, features.json and regression.json, by name."""
    test = study[study["split"] == "test"]
    single = test[test["kind"] == "single_ability"]
    sensitivity = sensitivities(design_grid(study, params), items, params, DESIGNS[params.design][1])
    resampling, weights = params.resampling.model_dump(), params.weights.model_dump()
    feature, regressions = features_on_scores(
        ABILITIES, single, foundation, sensitivity["sets"], weights, resampling
    )
    return {"sensitivity": sensitivity, "features": feature, "regression": regressions}


@dataclass(frozen=True)
class ReportFiles:
    """Where the report stage reads (dvc.yaml names them)."""

    study: Path
    plots: Path
    analysis: Path
    figures: Path
    settings: Path
    derivation: Path
    mix_metrics: Path
    raw_manifest: Path
    judge: Path
    forecast: Path


def mix_replicates(
    mixes: MixesParams, settings: Mapping, metrics: Path, mix_metrics: Path
) -> tuple[dict, dict]:
    """The Baseline's and each mix's metrics per replicate (foundation, seed, data seed): each mix run
    is paired with the Baseline setting trained on the same foundation, seed and data seed."""
    trained = {(s.foundation, s.subset, s.seed): name for name, s in settings.items()}
    baselines, runs = {}, {}
    for name, run in sorted(mixes.settings.items()):
        mix, data_seed = split_data_seed(run.subset)
        replicate = f"{run.foundation}/seed {run.seed}/data seed {data_seed}"
        baseline = trained.get((run.foundation, data_seed_name(mixes.baseline, data_seed), run.seed))
        if baseline is None:
            raise DataError("params.yaml", f"mix {name} has no Baseline replicate", None, "mixes.settings")
        baselines[replicate] = read_json(metrics / f"{baseline}.json")
        runs.setdefault(mix, {})[replicate] = read_json(mix_metrics / f"{name}.json")
    return baselines, runs


def provenance(
    test: pd.DataFrame, grid: pd.DataFrame, design: str, mix_runs: int, files: ReportFiles
) -> dict:
    """What was run; the raw manifest's hash only where the data were pulled (a clone has none)."""
    source = "the raw snapshot is not here (dvc pull data/raw)"
    if files.raw_manifest.is_file():
        manifest = read_json(files.raw_manifest)
        source = f"{manifest['source']} (raw manifest sha256 {sha256_file(files.raw_manifest)[:16]}…)"
    sizes = ", ".join(
        f"{s} ({p})" for s, p in sorted(set(zip(test["size"], test["parameters"], strict=True)))
    )
    single = test.loc[test["kind"] == "single_ability", "setting"].nunique()
    on_grid = f"{grid['setting'].nunique()} on the {design} grid, {single} single-ability"
    return {
        "data source": source,
        "settings": f"{test['setting'].nunique()} ({on_grid}), and {mix_runs} trainings of the derived mixes",
        "model sizes (parameters)": sizes,
        "foundation models": f"{test['foundation'].nunique()} ({grid['foundation'].nunique()} on the grid)",
        "study table sha256": sha256_file(files.study)[:16] + "…",
        "every number recomputed": "`python -m doit_study verify` (from metrics/items.csv and the params)",
        "trace any checkpoint": "`python -m doit_study lineage models/sft/<setting>/epoch-NN`",
    }


def build_report(files: ReportFiles, analysis: AnalysisParams, mixes: MixesParams, settings: Mapping):
    """metrics/mixes.json (the Table 3 analogue) and the report's markdown."""
    sensitivity = read_json(files.analysis / "sensitivity.json")
    baselines, runs = mix_replicates(mixes, settings, files.settings, files.mix_metrics)
    table = mix_table(baselines, runs, analysis.level)
    study = read_study(files.study)
    test, grid = study[study["split"] == "test"], design_grid(study, analysis)
    evaluated = {s: read_json(files.settings / f"{s}.json") for s in sorted(test["setting"].unique())}
    inputs = ReportInputs(
        provenance=provenance(test, grid, analysis.design, len(mixes.settings), files),
        overall=read_frame(files.plots / "overall.csv"),
        sensitivity=sensitivity["sets"],
        correction=sensitivity["correction"],
        features=read_json(files.analysis / "features.json"),
        regressions=read_json(files.analysis / "regression.json"),
        figures=sorted(p.name for p in files.figures.glob("*.png")),
        limits=run_limits(sensitivity["sets"], grid) + budget_limits(evaluated),
        derivation=read_json(files.derivation),
        mix_table=table,
        level=analysis.level,
        design=analysis.design,
        judge=read_json(files.judge),
        forecast=read_json(files.forecast) if files.forecast.is_file() else None,
        design_points=design_points(study, analysis.design) if analysis.design in DESIGN_PANELS else None,
    )
    return table, report_markdown(inputs)
