"""Stage study: every setting's metrics gathered into metrics/study.csv and the plot tables under
metrics/plots/ that dvc.yaml declares (Figures 1-6 analogues and validation curves)."""

from __future__ import annotations

from pathlib import Path

from doit_study.analysis.study_table import plot_tables, study_frame, unseen_scores, write_tables
from doit_study.core.files import atomic_dir, read_json, read_json_lines
from doit_study.core.stage import run_stage, stage_args
from doit_study.params.base import read_group
from doit_study.params.train import TrainParams


def main(argv: list[str] | None = None) -> None:
    paths = {
        "subsets": "data/subsets (index.json)",
        "metrics": "metrics/settings",
        "predictions": "metrics/predictions",
        "judge": "metrics/judge.json (win rates of judged settings)",
        "study": "metrics/study.csv",
        "plots": "metrics/plots",
    }
    args = stage_args(__doc__, argv, paths=paths)
    settings = {
        name: spec.model_dump() for name, spec in read_group(args.params, TrainParams).settings.items()
    }
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
