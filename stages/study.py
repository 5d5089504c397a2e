"""Stage study: every setting's metrics gathered into metrics/study.csv and the plot tables under
metrics/plots/ that dvc.yaml declares (Figures 1-6 analogues and validation curves)."""

from __future__ import annotations

from pathlib import Path

from doit_study.cli import run_stage, stage_parser
from doit_study.config import load_group
from doit_study.io import atomic_dir, read_json, read_json_lines
from doit_study.study_table import plot_tables, study_frame, unseen_scores, write_tables


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--subsets", required=True, help="data/subsets (index.json)")
    parser.add_argument("--metrics", required=True, help="metrics/settings")
    parser.add_argument("--predictions", required=True, help="metrics/predictions")
    parser.add_argument("--judge", required=True, help="metrics/judge.json (win rates of judged settings)")
    parser.add_argument("--study", required=True, help="metrics/study.csv")
    parser.add_argument("--plots", required=True, help="metrics/plots")
    args = parser.parse_args(argv)
    settings = {name: spec.model_dump() for name, spec in load_group(args.params, "train").settings.items()}
    index = read_json(Path(args.subsets) / "index.json")
    hint = "missing: run the evaluate stage of this setting"
    metrics = {name: read_json(Path(args.metrics) / f"{name}.json", hint) for name in settings}
    epochs = {name: read_json(Path(args.predictions) / name / "epochs.json", hint) for name in settings}
    held_out = (index.get("tasks") or {}).get("held_out", [])
    task_settings = [n for n, spec in settings.items() if index["subsets"][spec["subset"]]["kind"] == "tasks"]
    unseen = {
        name: unseen_scores(
            [r for _, r in read_json_lines(Path(args.predictions) / name / "test.jsonl")], held_out
        )
        for name in task_settings
    }
    judge = read_json(Path(args.judge))
    judged = {n: {"acc": judge.get(f"{n}.all.win_rate")} for n in settings if f"{n}.all.items" in judge}
    study = study_frame(settings, index, metrics, unseen, judged)
    tables = plot_tables(study, {name: m["overall"] for name, m in metrics.items()}, epochs)
    with atomic_dir(args.plots) as plots:
        write_tables(study, tables, Path(args.study), Path(plots))
    print(f"study: {len(study)} rows in {args.study}, plots in {args.plots}")


if __name__ == "__main__":
    run_stage(main)
