"""Stage report: the Table 3 analogue (metrics/mixes.json: the derived mixes against the Baseline on
the benchmarks) and the study report (metrics/report.md and its HTML rendering): what was run, the
figures, the tables, and the paper's findings beside this run's."""

from __future__ import annotations

from pathlib import Path

from doit_study.analysis.factors import DESIGNS
from doit_study.analysis.figures import DESIGN_PANELS, design_points
from doit_study.analysis.findings import budget_limits, run_limits
from doit_study.analysis.mixes import DERIVED, mix_table
from doit_study.analysis.report import ReportInputs, render_html, report_markdown
from doit_study.analysis.study_table import read_frame, read_study
from doit_study.core.files import DataError, atomic_file, read_json, sha256_file, write_json
from doit_study.core.stage import run_stage, stage_args
from doit_study.params.analysis import AnalysisParams
from doit_study.params.base import read_group
from doit_study.params.mixes import MixesParams
from doit_study.params.train import TrainParams


def main(argv: list[str] | None = None) -> None:
    paths = {
        "study": "metrics/study.csv",
        "plots": "metrics/plots",
        "analysis": "metrics (sensitivity/features/regression JSON)",
        "figures": "metrics/figures",
        "settings": "metrics/settings (the Baseline's metrics)",
        "mixes": "data/mixes (derivation.json)",
        "mix_metrics": "metrics/mixes (<mix>.json)",
        "raw_manifest": "data/raw/manifest.json",
        "judge": "metrics/judge.json (the judged settings' win rates)",
        "table": "metrics/mixes.json (the Table 3 analogue)",
        "report": "metrics/report.md (report.html beside it)",
    }
    args = stage_args(__doc__, argv, paths=paths)
    analysis = read_group(args.params, AnalysisParams)
    mixes = read_group(args.params, MixesParams)
    settings = read_group(args.params, TrainParams).settings
    point = (mixes.size, mixes.baseline, mixes.seed)  # the Baseline trained like the mixes
    baseline = [n for n, s in sorted(settings.items()) if (s.size, s.subset, s.seed) == point]
    if not baseline:
        raise DataError(args.params, f"no setting trains {mixes.baseline} at {mixes.size}", None, "mixes")

    results = Path(args.analysis)
    sensitivity = read_json(results / "sensitivity.json")
    derivation = read_json(Path(args.mixes) / "derivation.json")
    mix_metrics = {name: read_json(Path(args.mix_metrics) / f"{name}.json") for name in DERIVED}
    table = mix_table(read_json(Path(args.settings) / f"{baseline[0]}.json"), mix_metrics)
    table["baseline"]["setting"] = baseline[0]
    write_json(args.table, table)

    study = read_study(args.study)
    test = study[study["split"] == "test"]
    kind = DESIGNS[analysis.design][0]
    grid = test[(test["kind"] == kind) & ((test["pool"] == analysis.pool) | (kind != "uniform"))]
    manifest = read_json(Path(args.raw_manifest))
    sizes = ", ".join(
        f"{s} ({p})" for s, p in sorted(set(zip(test["size"], test["parameters"], strict=True)))
    )
    provenance = {
        "data source": f"{manifest['source']} (raw manifest sha256 {sha256_file(args.raw_manifest)[:16]}…)",
        "settings": f"{test['setting'].nunique()} ({grid['setting'].nunique()} on the {analysis.design} "
        f"grid, {test.loc[test['kind'] == 'single_ability', 'setting'].nunique()} single-ability), and the "
        f"{len(DERIVED)} derived mixes at {mixes.size}",
        "model sizes (parameters)": sizes,
        "study table sha256": sha256_file(args.study)[:16] + "…",
        "trace any checkpoint": "`python -m doit_study lineage models/sft/<setting>/epoch-NN`",
    }
    seeds = grid.groupby(["parameters", "data_volume"])["setting"].nunique().tolist() if len(grid) else []
    evaluated = {s: read_json(Path(args.settings) / f"{s}.json") for s in sorted(test["setting"].unique())}
    limits = run_limits(sensitivity, grid["parameters"].nunique(), grid["data_volume"].nunique(), seeds)
    inputs = ReportInputs(
        provenance=provenance,
        overall=read_frame(Path(args.plots) / "overall.csv"),
        sensitivity=sensitivity,
        features=read_json(results / "features.json"),
        regressions=read_json(results / "regression.json"),
        figures=sorted(p.name for p in Path(args.figures).glob("*.png")),
        limits=limits + budget_limits(evaluated),
        derivation=derivation,
        mix_table=table,
        level=f"{analysis.bootstrap.level:.0%} ",
        design=analysis.design,
        judge=read_json(Path(args.judge)),
        design_points=design_points(study, analysis.design) if analysis.design in DESIGN_PANELS else None,
    )
    markdown = report_markdown(inputs)
    report = Path(args.report)
    with atomic_file(report) as tmp:
        tmp.write_text(markdown, encoding="utf-8")
    with atomic_file(report.with_suffix(".html")) as tmp:
        tmp.write_text(render_html(markdown), encoding="utf-8")
    print(f"report: {args.table} and {report}")


if __name__ == "__main__":
    run_stage(main)
