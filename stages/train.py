"""Stages train@<setting> and train_mix@<mix>: supervised fine-tuning of one setting (a base model
size and a subset, under a seed), a checkpoint after every epoch in models/sft/<setting>/epoch-NN/,
one MLflow run, and run.json (the lineage record) beside the checkpoints. A killed run resumes from
its last complete epoch. With train.keep_checkpoints: best, every epoch is scored on valid as it is
written and only the selected checkpoint is kept (doit_study.evaluation.selection)."""

from __future__ import annotations

import torch
from accelerate import PartialState

from doit_study.core.stage import run_stage, stage_args
from doit_study.core.tracking import require_tracking_server
from doit_study.evaluation.item_scoring import ScoringConfig, read_scorable
from doit_study.evaluation.selection import KeepBest, Selection
from doit_study.params.base import read_group
from doit_study.params.evaluate import EvaluateParams
from doit_study.params.train import TrainParams
from doit_study.training.finetuning import TrainingJob, train_setting


def main(argv: list[str] | None = None) -> None:
    names = {
        "setting": "the setting (a key of train.settings, or mix-<mix>)",
        "stage": "the DVC stage, for MLflow's tags",
        "foundation": "the foundation model (a key of foundation.models)",
        "seed": "the training seed (the setting's seed)",
    }
    paths = {
        "subset": "data/subsets/<name>.jsonl or data/mixes/<mix>.jsonl",
        "base": "models/base/<foundation>",
        "raw_manifest": "data/raw/manifest.json",
        "valid": "data/annotated/valid (read to keep only the best)",
        "out": "models/sft/<setting>",
    }
    args = stage_args(__doc__, argv, names=names, paths=paths, outs=("out",))
    params = read_group(args.params, TrainParams)
    require_tracking_server()  # before any work: no training hour is lost to a logging error
    keep_best = None
    if params.keep_checkpoints == "best":
        evaluate = read_group(args.params, EvaluateParams)
        selection = Selection.from_params(evaluate, ScoringConfig.from_params(evaluate))
        valid = read_scorable(args.valid, evaluate.valid_per_ability)
        keep_best = KeepBest(selection, valid, args.base, args.setting)
    job = TrainingJob(
        args.setting,
        args.stage,
        args.foundation,
        int(args.seed),
        args.subset,
        args.base,
        str(args.raw_manifest),
        args.out,
    )
    # under accelerate launch, only rank 0 tracks and records
    main_process = PartialState(cpu=not torch.cuda.is_available()).is_main_process
    record = train_setting(job, params, keep_best, main_process)
    if main_process:
        found = f"{len(record['checkpoints'])} checkpoints in {args.out}"
        print(f"train@{args.setting}: {found}, MLflow run {record['mlflow_run_id']}")


if __name__ == "__main__":
    run_stage(main)
