"""Stage analyse: every set's scaling on accuracy and on the continuous score, with noise,
signal-to-noise and decision accuracy (metrics/sensitivity.json), Complexity and Transference
(metrics/features.json), their regression on the sensitivities (metrics/regression.json), both per
score, and the figures (metrics/figures/)."""

from __future__ import annotations

from pathlib import Path

from doit_study.analysis.figures import draw_figures
from doit_study.analysis.item_table import read_items_table
from doit_study.analysis.study_results import analyse_study, single_foundation
from doit_study.analysis.study_table import read_frame, read_study
from doit_study.core.files import atomic_dir, read_json, write_json
from doit_study.core.stage import run_stage, stage_args
from doit_study.params.analysis import AnalysisParams
from doit_study.params.base import read_group


def main(argv: list[str] | None = None) -> None:
    paths = {
        "study": "metrics/study.csv",
        "items": "metrics/items.csv",
        "plots": "metrics/plots",
        "foundations": "metrics/foundations",
        "out": "metrics (sensitivity/features/regression JSON)",
        "figures": "metrics/figures",
    }
    args = stage_args(__doc__, argv, paths=paths)
    params = read_group(args.params, AnalysisParams)
    study = read_study(args.study)
    foundation = single_foundation(study)
    record = read_json(args.foundations / f"{foundation}.json") if foundation else {}
    found = analyse_study(study, read_items_table(args.items), record, params)
    out = Path(args.out)
    for name, value in found.items():
        write_json(out / f"{name}.json", value)
    sets, feature, regressions = found["sensitivity"]["sets"], found["features"], found["regression"]
    plots = Path(args.plots)
    tables = {
        "overall": read_frame(plots / "overall.csv"),
        "acc": {p.stem: read_frame(p) for p in sorted((plots / "abilities").glob("*.csv"))},
        "continuous": {p.stem: read_frame(p) for p in sorted((plots / "abilities_continuous").glob("*.csv"))},
    }
    with atomic_dir(args.figures) as tmp:
        names = draw_figures(Path(tmp), tables, sets, feature, regressions, (params.design, study))
    print(f"analyse: {len(sets)} sets on {len(feature)} scores, {len(names)} figures in {args.figures}")


if __name__ == "__main__":
    run_stage(main)
