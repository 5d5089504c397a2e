"""Stage study: every setting's metrics gathered into metrics/study.csv, every setting's per-item
results into metrics/items.csv (what the analysis and `python -m doit_study verify` recompute from),
and the plot tables under metrics/plots/ that dvc.yaml declares (Figures 1-6 analogues and
validation curves)."""

from __future__ import annotations

from doit_study.analysis.item_table import (
    benchmark_records,
    item_frame,
    judged_items,
    read_records,
    setting_records,
)
from doit_study.analysis.study_table import (
    plot_tables,
    study_frame,
    unseen_scores,
    write_frame,
    write_tables,
)
from doit_study.core.files import atomic_dir, read_json
from doit_study.core.stage import run_stage, stage_args
from doit_study.params.base import read_group
from doit_study.params.foundation import FoundationParams
from doit_study.params.train import TrainParams


def main(argv: list[str] | None = None) -> None:
    paths = {
        "subsets": "data/subsets (index.json)",
        "metrics": "metrics/settings",
        "predictions": "metrics/predictions",
        "judge": "metrics/judge (judgements per setting)",
        "judge_metrics": "metrics/judge.json (win rates of judged settings)",
        "study": "metrics/study.csv",
        "items": "metrics/items.csv (every setting's per-item results)",
        "plots": "metrics/plots",
    }
    args = stage_args(__doc__, argv, paths=paths)
    train, models = read_group(args.params, TrainParams), read_group(args.params, FoundationParams).models
    settings = {
        name: spec.model_dump() | {"size": models[spec.foundation].size}
        for name, spec in train.settings.items()
    }
    index = read_json(args.subsets / "index.json")
    hint = "missing: run the evaluate stage of this setting"
    metrics = {name: read_json(args.metrics / f"{name}.json", hint) for name in settings}
    epochs = {name: read_json(args.predictions / name / "epochs.json", hint) for name in settings}
    held_out = (index.get("tasks") or {}).get("held_out", [])
    records = {
        (name, split, epoch): rows
        for name in settings
        for (split, epoch), rows in setting_records(
            args.predictions / name, held_out, judged_items(args.judge, name)
        ).items()
    }
    for model in models:  # the untuned foundations' answers (setting base-<model>, epoch 0)
        folder = args.predictions / f"base-{model}"
        if (folder / "test.jsonl").is_file():
            records[(f"base-{model}", "test", 0)] = read_records(folder / "test.jsonl")
            records |= {(f"base-{model}", *key): rows for key, rows in benchmark_records(folder, 0).items()}
    items = item_frame(records)
    task_settings = [n for n, spec in settings.items() if index["subsets"][spec["subset"]]["kind"] == "tasks"]
    unseen = {
        name: unseen_scores(records[(name, "test", metrics[name]["best_epoch"])], held_out)
        for name in task_settings
    }
    judge = read_json(args.judge_metrics)
    judged = {n: {"acc": judge.get(f"{n}.all.win_rate")} for n in settings if f"{n}.all.items" in judge}
    study = study_frame(settings, index, metrics, unseen, judged)
    tables = plot_tables(study, {name: m["overall"] for name, m in metrics.items()}, epochs)
    write_frame(args.items, items)
    with atomic_dir(args.plots) as plots:
        write_tables(study, tables, args.study, plots)
    found = f"{len(study)} rows in {args.study}, {len(items)} item results in {args.items}"
    print(f"study: {found}, plots in {args.plots}")


if __name__ == "__main__":
    run_stage(main)
