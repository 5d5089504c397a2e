"""Stage report: the Table 3 analogue (metrics/mixes.json: the derived mixes against the Baseline on
the benchmarks) and the study report (metrics/report.md and its HTML rendering): what was run, the
figures, the tables, and the paper's findings beside this run's."""

from __future__ import annotations

from pathlib import Path

from doit_study.cli import run_stage, stage_parser
from doit_study.config import load_group
from doit_study.io import DataError, atomic_file, read_json, sha256_file, write_json
from doit_study.mixes import DERIVED, mix_table
from doit_study.report import budget_limits, render_html, report_markdown, run_limits
from doit_study.study_table import read_csv


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--study", required=True, help="metrics/study.csv")
    parser.add_argument("--plots", required=True, help="metrics/plots")
    parser.add_argument("--analysis", required=True, help="metrics (sensitivity/features/regression JSON)")
    parser.add_argument("--figures", required=True, help="metrics/figures")
    parser.add_argument("--settings", required=True, help="metrics/settings (the Baseline's metrics)")
    parser.add_argument("--mixes", required=True, help="data/mixes (derivation.json)")
    parser.add_argument("--mix-metrics", required=True, help="metrics/mixes (<mix>.json)")
    parser.add_argument("--raw-manifest", required=True, help="data/raw/manifest.json")
    parser.add_argument("--table", required=True, help="metrics/mixes.json (the Table 3 analogue)")
    parser.add_argument("--report", required=True, help="metrics/report.md (report.html beside it)")
    args = parser.parse_args(argv)
    pool = load_group(args.params, "analysis").pool
    mixes = load_group(args.params, "mixes")
    settings = load_group(args.params, "train").settings
    baseline = [n for n, s in sorted(settings.items()) if (s.size, s.subset) == (mixes.size, mixes.baseline)]
    if not baseline:
        raise DataError(args.params, f"no setting trains {mixes.baseline} at {mixes.size}", None, "mixes")

    analysis = Path(args.analysis)
    sensitivity = read_json(analysis / "sensitivity.json")
    feature = read_json(analysis / "features.json")
    regressions = read_json(analysis / "regression.json")
    derivation = read_json(Path(args.mixes) / "derivation.json")
    mix_metrics = {name: read_json(Path(args.mix_metrics) / f"{name}.json") for name in DERIVED}
    table = mix_table(read_json(Path(args.settings) / f"{baseline[0]}.json"), mix_metrics)
    table["baseline"]["setting"] = baseline[0]
    write_json(args.table, table)

    rows = [r for r in read_csv(args.study) if r["split"] == "test"]
    grid = [r for r in rows if r["kind"] == "uniform" and r["pool"] == pool]
    single = {r["setting"] for r in rows if r["kind"] == "single_ability"}
    manifest = read_json(Path(args.raw_manifest))
    provenance = {
        "data source": f"{manifest['source']} (raw manifest sha256 {sha256_file(args.raw_manifest)[:16]}…)",
        "settings": f"{len({r['setting'] for r in rows})} ({len({r['setting'] for r in grid})} on the "
        f"{pool} grid, {len(single)} single-ability), and the {len(DERIVED)} derived mixes at {mixes.size}",
        "model sizes (parameters)": ", ".join(sorted({f"{r['size']} ({r['parameters']})" for r in rows})),
        "study table sha256": sha256_file(args.study)[:16] + "…",
        "trace any checkpoint": "`python -m doit_study lineage models/sft/<setting>/epoch-NN`",
    }
    sizes_in_grid = len({r["parameters"] for r in grid})
    volumes_in_grid = len({r["data_volume"] for r in grid})
    evaluated = {
        s: read_json(Path(args.settings) / f"{s}.json") for s in sorted({r["setting"] for r in rows})
    }
    limits = run_limits(sensitivity, regressions, sizes_in_grid, volumes_in_grid) + budget_limits(evaluated)
    figures = sorted(p.name for p in Path(args.figures).glob("*.png"))
    overall_rows = read_csv(Path(args.plots) / "overall.csv")
    markdown = report_markdown(
        provenance, overall_rows, sensitivity, feature, regressions, figures, limits, derivation, table
    )
    report = Path(args.report)
    with atomic_file(report) as tmp:
        tmp.write_text(markdown, encoding="utf-8")
    with atomic_file(report.with_suffix(".html")) as tmp:
        tmp.write_text(render_html(markdown), encoding="utf-8")
    print(f"report: {args.table} and {report}")


if __name__ == "__main__":
    run_stage(main)
