"""Stages train@<setting> and train_mix@<mix>: supervised fine-tuning of one setting (a base model
size and a subset), a checkpoint after every epoch in models/sft/<setting>/epoch-NN/, one MLflow run,
and run.json (the lineage record) beside the checkpoints. A killed run resumes from its last complete
epoch. With train.keep_checkpoints: best, every epoch is scored on valid as it is written and only
the selected checkpoint is kept (doit_study.selection)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from pathlib import Path

import torch
from accelerate import PartialState

from doit_study.chat import encode_dialogue
from doit_study.checkpoints import checkpoint_sha256, epoch_dir
from doit_study.cli import run_stage, stage_parser
from doit_study.config import load_group
from doit_study.evaluation import read_scorable
from doit_study.io import DataError, read_items, sha256_file, sha256_text, write_json
from doit_study.modeling import folder_hash, load_causal_lm, load_tokenizer, parameter_count, with_lora
from doit_study.selection import CheckpointKeeper, forget_selection, selection_spec
from doit_study.tracking import RUN_RECORD, SettingRun, require_tracking_server
from doit_study.training import config_from, train


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
    subset = Path(args.subset)
    if not subset.is_file():
        raise DataError(subset, f"setting {args.setting} names subset {subset.stem!r}, which was not written")
    items = read_items(subset)
    base = Path(args.base)
    # float32 master weights whatever the folder holds (transformers loads a bf16 or fp16 release as
    # saved): AdamW's updates need them; --mixed_precision bf16 computes in bf16 on top
    tokenizer, model = load_tokenizer(base), load_causal_lm(base, dtype="float32")
    if params.lora:
        model = with_lora(
            model, params.lora.r, params.lora.alpha, params.lora.dropout, params.lora.target_modules
        )
    try:
        examples = [encode_dialogue(tokenizer, item.messages, params.max_length) for item in items]
    except ValueError as error:
        raise DataError(base, f"the tokenizer cannot encode the data: {error}") from None

    config = config_from(params.optim, args.seed)
    subset_sha, base_sha = sha256_file(subset), folder_hash(base)
    resolved = {
        **asdict(config),
        "max_length": params.max_length,
        "size": args.size,
        "subset": subset.stem,
        "examples": len(examples),
        "parameters": parameter_count(model),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "lora": params.lora.model_dump() if params.lora else None,
    }
    made_of = [resolved, subset_sha, base_sha]
    if params.keep_checkpoints == "best":  # pruned checkpoints cannot be selected again: part of the run
        evaluate = load_group(args.params, "evaluate")
        valid = read_scorable(Path(args.valid), evaluate.valid_per_ability)
        made_of.append(selection_spec(evaluate, valid))
    fingerprint = sha256_text(json.dumps(made_of, sort_keys=True))
    out = Path(args.out)
    tags = {
        "subset_sha256": subset_sha,
        "base_model_sha256": base_sha,
        "size": args.size,
        "subset": subset.stem,
    }
    # under accelerate launch, only rank 0 tracks and records
    main_process = PartialState(cpu=not torch.cuda.is_available()).is_main_process
    run = (
        SettingRun(args.setting, args.stage or f"train@{args.setting}", resolved, tags)
        if main_process
        else None
    )

    def log_step(log) -> None:
        run.log_step(log.step, asdict(log))

    keeper = None
    if main_process and params.keep_checkpoints == "best":
        keeper = CheckpointKeeper(
            out, fingerprint, made_of[-1], base, valid, args.setting, evaluate.device_map
        )
    elif main_process:
        forget_selection(out)  # a record left by a keep-best run would speak for these checkpoints

    def on_epoch(epoch: int, folder: Path, loss: float) -> None:
        sha256 = checkpoint_sha256(folder)
        run.log_checkpoint(epoch, folder, sha256, loss)
        if keeper:
            keeper.add(epoch, folder, sha256, loss)

    with run or contextlib.nullcontext():
        if keeper and keeper.complete():  # trained and selected before: only the best is left
            best = keeper.record["best_epoch"]
            loss = keeper.record["epochs"][str(best)]["train_loss"]
            run.log_checkpoint(best, epoch_dir(out, best), checkpoint_sha256(epoch_dir(out, best)), loss)
        else:
            train(
                model,
                tokenizer,
                examples,
                config,
                out,
                fingerprint=fingerprint,
                sharding=params.sharding,
                on_step=log_step if run else None,
                on_epoch=on_epoch if run else None,
            )
            if keeper:
                keeper.finish()
    if not main_process:
        return
    checkpoints = [
        {"epoch": int(p.name[6:]), "path": str(p), "sha256": checkpoint_sha256(p)}
        for p in sorted(out.glob("epoch-*"))
    ]
    # only what the run is made of: the MLflow run id and the git commit live in MLflow's tags, so
    # two clean runs of the same params write identical outputs
    write_json(
        out / RUN_RECORD,
        {
            "setting": args.setting,
            "params": resolved,
            "subset": {"name": subset.stem, "path": str(subset), "sha256": subset_sha},
            "base_model": {"size": args.size, "path": str(base), "sha256": base_sha},
            "raw_manifest": args.raw_manifest,
            "keep_checkpoints": params.keep_checkpoints,
            "checkpoints": checkpoints,
        },
    )
    print(f"train@{args.setting}: {len(checkpoints)} checkpoints in {out}, MLflow run {run.run_id}")


if __name__ == "__main__":
    run_stage(main)
