"""Stage report: the Table 3 analogue (metrics/mixes.json: the derived mixes against the Baseline on
the benchmarks) and the study report (metrics/report.md and its HTML rendering): what was run, the
figures, the tables, and the paper's findings beside this run's."""

from __future__ import annotations

from pathlib import Path

from doit_study.analysis.item_table import item_frame, setting_records
from doit_study.analysis.report import render_html
from doit_study.analysis.study_results import ReportFiles, build_report
from doit_study.analysis.study_table import write_frame
from doit_study.core.files import atomic_file, write_json
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
        "derivation": "metrics/derivation.json (how the mixes were derived)",
        "mix_metrics": "metrics/mixes (<mix>.json)",
        "mix_predictions": "metrics/mix_predictions (<mix>/)",
        "mix_items": "metrics/mix_items.csv (the mixes' per-item results, in git)",
        "raw_manifest": "data/raw/manifest.json",
        "judge": "metrics/judge.json (the judged settings' win rates)",
        "forecast": "metrics/forecast.json (the held-out targets' forecasts)",
        "table": "metrics/mixes.json (the Table 3 analogue)",
        "report": "metrics/report.md (report.html beside it)",
    }
    args = stage_args(__doc__, argv, paths=paths)
    analysis = read_group(args.params, AnalysisParams)
    mixes = read_group(args.params, MixesParams)
    settings = read_group(args.params, TrainParams).settings
    records = {
        (f"mix-{name}", split, epoch): rows
        for name in sorted(mixes.settings)
        for (split, epoch), rows in setting_records(args.mix_predictions / name, [], []).items()
    }
    write_frame(args.mix_items, item_frame(records))
    files = ReportFiles(**{name: Path(getattr(args, name)) for name in ReportFiles.__dataclass_fields__})
    table, markdown = build_report(files, analysis, mixes, settings)
    write_json(args.table, table)
    report = Path(args.report)
    with atomic_file(report) as tmp:
        tmp.write_text(markdown, encoding="utf-8")
    with atomic_file(report.with_suffix(".html")) as tmp:
        tmp.write_text(render_html(markdown), encoding="utf-8")
    print(f"report: {args.table} and {report}")


if __name__ == "__main__":
    run_stage(main)
