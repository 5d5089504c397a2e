"""One setting fine-tuned: a base model size on a subset under a seed, a checkpoint after every epoch
(or only the one selected on valid, with `train.keep_checkpoints: best`), one MLflow run, and the
run record (run.json) that ties the checkpoints to their data and base model. The train stages call
this; under `accelerate launch` only the main process tracks and records."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

from doit_study.core.files import DataError, read_items, read_json, sha256_file, sha256_text, write_json
from doit_study.core.tracking import RUN_RECORD, SettingRun
from doit_study.modeling.chat import encode_dialogue, truncation_counts
from doit_study.modeling.checkpoints import checkpoint_sha256, epoch_dir, forget_selection
from doit_study.modeling.folders import (
    FOUNDATION_RECORD,
    folder_hash,
    load_causal_lm,
    load_tokenizer,
    parameter_count,
    with_lora,
)
from doit_study.params.train import TrainParams
from doit_study.training.loop import check_packing, config_from, train


@dataclass(frozen=True)
class TrainingJob:
    setting: str
    stage: str  # the DVC stage, for MLflow's tags
    foundation: str  # the foundation model's name (its folder is `base`)
    seed: int
    subset: Path
    base: Path
    raw_manifest: str
    out: Path


@dataclass
class Prepared:
    model: object
    tokenizer: object
    examples: list
    config: object  # training.TrainConfig
    resolved: dict  # what the run is made of, as MLflow params and in run.json
    subset_sha: str
    base_sha: str


class KeepsBest(Protocol):
    """What `train.keep_checkpoints: best` hands the run (evaluation.selection.KeepBest): what the
    selection is made of, and a keeper that scores each epoch on valid and prunes the rest."""

    @property
    def spec(self) -> dict: ...

    def keeper(self, out_dir: Path, fingerprint: str): ...


COUNTED = ("truncated_items", "prompt_cut_items")  # recorded, derived from the data and max_length


def foundation_size(base: Path) -> str:
    """The size of a foundation folder, from the record the foundation stage wrote beside it."""
    return read_json(base / FOUNDATION_RECORD, "missing: run the foundation stage of this model")["size"]


def prepare(job: TrainingJob, params: TrainParams) -> Prepared:
    if not job.subset.is_file():
        raise DataError(
            job.subset, f"setting {job.setting} names subset {job.subset.stem!r}, which was not written"
        )
    items = read_items(job.subset)
    # float32 master weights whatever the folder holds (transformers loads a bf16 or fp16 release as
    # saved): AdamW's updates need them; --mixed_precision bf16 computes in bf16 on top
    tokenizer, model = load_tokenizer(job.base), load_causal_lm(job.base, dtype="float32")
    if params.lora:
        lora = params.lora
        model = with_lora(model, lora.r, lora.alpha, lora.dropout, lora.target_modules)
    try:
        encoded = [encode_dialogue(tokenizer, item.messages, params.max_length) for item in items]
    except ValueError as error:
        raise DataError(job.base, f"the tokenizer cannot encode the data: {error}") from None
    examples = [(e.input_ids, e.labels) for e in encoded]
    truncated, prompt_cut = truncation_counts(encoded)
    if truncated:  # visible, never silent: the run record and MLflow carry the counts too
        print(
            f"train: {truncated} of {len(items)} items are longer than train.max_length {params.max_length}; "
            f"{prompt_cut} of them kept no answer token in their head: their prompt was cut from the left"
        )
    config = replace(
        config_from(params.optim, job.seed), pack_length=params.max_length if params.packing else None
    )
    try:
        check_packing(model, config)
    except ValueError as error:
        raise DataError(job.base, str(error), None, "train.packing") from None
    resolved = {
        **asdict(config),
        "max_length": params.max_length,
        "foundation": job.foundation,
        "size": foundation_size(job.base),
        "subset": job.subset.stem,
        "examples": len(examples),
        "truncated_items": truncated,
        "prompt_cut_items": prompt_cut,
        "parameters": parameter_count(model),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "lora": params.lora.model_dump() if params.lora else None,
    }
    return Prepared(
        model, tokenizer, examples, config, resolved, sha256_file(job.subset), folder_hash(job.base)
    )


def train_setting(
    job: TrainingJob, params: TrainParams, keep_best: KeepsBest | None, main_process: bool
) -> dict:
    """Train (or resume, or find complete) and return the run record written beside the checkpoints.
    `keep_best`: with keep_checkpoints: best, the selection on valid (pruned checkpoints cannot be
    selected again, so the selection is part of what the run is made of)."""
    if (keep_best is None) != (params.keep_checkpoints == "all"):
        raise ValueError("keep_best: given exactly when train.keep_checkpoints is best")
    ready = prepare(job, params)
    # what the run is made of; the truncation counts follow from it (and kept old runs resumable)
    made_of = [
        # a padded run (pack_length None) keeps the fingerprint it had before packing existed: resumable
        {k: v for k, v in ready.resolved.items() if k not in COUNTED and (k, v) != ("pack_length", None)},
        ready.subset_sha,
        ready.base_sha,
    ]
    if keep_best:
        made_of.append(keep_best.spec)
    fingerprint = sha256_text(json.dumps(made_of, sort_keys=True))
    tags = {"subset_sha256": ready.subset_sha, "base_model_sha256": ready.base_sha}
    tags |= {"foundation": job.foundation, "size": ready.resolved["size"], "subset": job.subset.stem}
    run = SettingRun(job.setting, job.stage, ready.resolved, tags) if main_process else None
    keeper = None
    if main_process and keep_best:
        keeper = keep_best.keeper(job.out, fingerprint)
    elif main_process:
        forget_selection(job.out)  # a record left by a keep-best run would speak for these checkpoints

    def on_epoch(epoch: int, folder: Path, loss: float) -> None:
        sha256 = checkpoint_sha256(folder)
        run.log_checkpoint(epoch, folder, sha256, loss)
        if keeper:
            keeper.add(epoch, folder, sha256, loss)

    with run or contextlib.nullcontext():
        if keeper and keeper.complete():  # trained and selected before: only the best is left
            best = keeper.record["best_epoch"]
            folder = epoch_dir(job.out, best)
            run.log_checkpoint(
                best, folder, checkpoint_sha256(folder), keeper.record["epochs"][str(best)]["train_loss"]
            )
        else:
            train(
                ready.model,
                ready.tokenizer,
                ready.examples,
                ready.config,
                job.out,
                fingerprint=fingerprint,
                sharding=params.sharding,
                on_step=(lambda log: run.log_step(log.step, asdict(log))) if run else None,
                on_epoch=on_epoch if run else None,
            )
            if keeper:
                keeper.finish()
    if not main_process:
        return {}
    return write_run_record(job, ready, params.keep_checkpoints) | {"mlflow_run_id": run.run_id}


def write_run_record(job: TrainingJob, ready: Prepared, keep_checkpoints: str) -> dict:
    """run.json: only what the run is made of. The MLflow run id and the git commit live in MLflow's
    tags, so two clean runs of the same params write identical outputs."""
    checkpoints = [
        {"epoch": int(p.name[6:]), "path": str(p), "sha256": checkpoint_sha256(p)}
        for p in sorted(job.out.glob("epoch-*"))
    ]
    record = {
        "setting": job.setting,
        "params": ready.resolved,
        "subset": {"name": job.subset.stem, "path": str(job.subset), "sha256": ready.subset_sha},
        "base_model": {
            "foundation": job.foundation,
            "size": ready.resolved["size"],
            "path": str(job.base),
            "sha256": ready.base_sha,
        },
        "raw_manifest": job.raw_manifest,
        "keep_checkpoints": keep_checkpoints,
        "checkpoints": checkpoints,
    }
    write_json(job.out / RUN_RECORD, record)
    return record
