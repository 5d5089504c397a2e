"""Epoch checkpoints as training writes and resumes them: the weights, tokenizer and record of
`modeling.checkpoints`, plus the optimizer, scheduler and RNG state for resuming (loaded with
`weights_only=True`); checkpoints of another run (another fingerprint) are removed, not resumed."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch

from doit_study.core.files import DataError, atomic_dir, sha256_file, write_json
from doit_study.modeling.checkpoints import (
    ADAPTER_WEIGHTS,
    CHECKPOINT_RECORD,
    checkpoint_record,
    epoch_dir,
    verified_weights,
    weights_file,
)

STATE = "training_state.pt"


def save_checkpoint(
    out_dir: Path, epoch: int, model, tokenizer, optimizer, scheduler, extra: dict, full: tuple | None = None
) -> Path:
    """`full`: the (model, optimizer) state gathered from a sharded model (sharding.full_state)."""
    target = epoch_dir(out_dir, epoch)
    with atomic_dir(target) as tmp:
        model.save_pretrained(tmp, safe_serialization=True, state_dict=full[0] if full else None)
        tokenizer.save_pretrained(tmp)
        torch.save(
            {
                "optimizer": full[1] if full else optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "epoch": epoch,
            },
            Path(tmp) / STATE,
        )
        write_json(
            Path(tmp) / CHECKPOINT_RECORD,
            {"epoch": epoch, "weights_sha256": sha256_file(weights_file(Path(tmp))), **extra},
        )
    return target


def restore_checkpoint(folder: Path, model, optimizer, scheduler, sharded: bool = False) -> None:
    from safetensors.torch import load_file

    weights = verified_weights(folder)
    # on CPU first: loading into the optimizer moves each tensor to its parameter's device
    state = torch.load(folder / STATE, weights_only=True, map_location="cpu")
    if weights.name == ADAPTER_WEIGHTS:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, load_file(weights))
    else:
        if sharded:
            from doit_study.modeling.sharding import load_full_weights

            missing, unexpected = load_full_weights(model, load_file(weights))
        else:
            missing, unexpected = model.load_state_dict(load_file(weights), strict=False)
        if unexpected or any(not name.endswith("lm_head.weight") for name in missing):  # lm_head is tied
            raise DataError(
                weights,
                f"checkpoint does not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})",
            )
    if sharded:
        from doit_study.modeling.sharding import load_full_optimizer

        load_full_optimizer(model, optimizer, state["optimizer"])
    else:
        optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])


def drop_stale_checkpoints(out_dir: Path, fingerprint: str) -> None:
    for folder in sorted(out_dir.glob("epoch-*")):
        if (
            not (folder / CHECKPOINT_RECORD).exists()
            or checkpoint_record(folder).get("fingerprint") != fingerprint
        ):
            print(f"removing {folder}: written by a run with other params or data", file=sys.stderr)
            shutil.rmtree(folder)
