"""Stage study: every setting's metrics gathered into metrics/study.csv and the plot tables under
metrics/plots/ that dvc.yaml declares (Figures 1-6 analogues and validation curves)."""

from __future__ import annotations

from pathlib import Path

from doit_study.cli import run_stage, stage_parser
from doit_study.config import load_group
from doit_study.io import atomic_dir, read_json
from doit_study.study_table import plot_tables, study_frame, write_tables


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--subsets", required=True, help="data/subsets (index.json)")
    parser.add_argument("--metrics", required=True, help="metrics/settings")
    parser.add_argument("--predictions", required=True, help="metrics/predictions")
    parser.add_argument("--study", required=True, help="metrics/study.csv")
    parser.add_argument("--plots", required=True, help="metrics/plots")
    args = parser.parse_args(argv)
    settings = {name: spec.model_dump() for name, spec in load_group(args.params, "train").settings.items()}
    index = read_json(Path(args.subsets) / "index.json")
    hint = "missing: run the evaluate stage of this setting"
    metrics = {name: read_json(Path(args.metrics) / f"{name}.json", hint) for name in settings}
    epochs = {name: read_json(Path(args.predictions) / name / "epochs.json", hint) for name in settings}
    study = study_frame(settings, index, metrics)
    tables = plot_tables(study, {name: m["overall"] for name, m in metrics.items()}, epochs)
    with atomic_dir(args.plots) as plots:
        write_tables(study, tables, Path(args.study), Path(plots))
    print(f"study: {len(study)} rows in {args.study}, plots in {args.plots}")


if __name__ == "__main__":
    run_stage(main)
