"""Stages train@<setting> and train_mix@<mix>: supervised fine-tuning of one setting (a base model
size and a subset, under a seed), a checkpoint after every epoch in models/sft/<setting>/epoch-NN/,
one MLflow run, and run.json (the lineage record) beside the checkpoints. A killed run resumes from
its last complete epoch. With train.keep_checkpoints: best, every epoch is scored on valid as it is
written and only the selected checkpoint is kept (doit_study.selection)."""

from __future__ import annotations

from pathlib import Path

import torch
from accelerate import PartialState

from doit_study.cli import run_stage, stage_parser
from doit_study.config import load_group
from doit_study.evaluation import read_scorable
from doit_study.setting_training import TrainingJob, train_setting
from doit_study.tracking import require_tracking_server


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--setting", required=True)
    parser.add_argument("--stage", help="the DVC stage, for MLflow's tags (default: train@<setting>)")
    parser.add_argument("--size", required=True, help="the model size (a key of foundation.sizes)")
    parser.add_argument("--seed", required=True, type=int, help="the training seed (the setting's seed)")
    parser.add_argument("--subset", required=True, help="data/subsets/<name>.jsonl or data/mixes/<mix>.jsonl")
    parser.add_argument("--base", required=True, help="models/base/<size>")
    parser.add_argument("--raw-manifest", required=True, help="data/raw/manifest.json")
    parser.add_argument("--valid", required=True, help="data/annotated/valid (read to keep only the best)")
    parser.add_argument("--out", required=True, help="models/sft/<setting>")
    args = parser.parse_args(argv)
    params = load_group(args.params, "train")
    require_tracking_server()  # before any work: no training hour is lost to a logging error
    evaluate, valid = None, None
    if params.keep_checkpoints == "best":
        evaluate = load_group(args.params, "evaluate")
        valid = read_scorable(Path(args.valid), evaluate.valid_per_ability)
    stage = args.stage or f"train@{args.setting}"
    job = TrainingJob(
        args.setting,
        stage,
        args.size,
        args.seed,
        Path(args.subset),
        Path(args.base),
        args.raw_manifest,
        Path(args.out),
    )
    # under accelerate launch, only rank 0 tracks and records
    main_process = PartialState(cpu=not torch.cuda.is_available()).is_main_process
    record = train_setting(job, params, evaluate, valid, main_process)
    if main_process:
        found = f"{len(record['checkpoints'])} checkpoints in {args.out}"
        print(f"train@{args.setting}: {found}, MLflow run {record['mlflow_run_id']}")


if __name__ == "__main__":
    run_stage(main)
