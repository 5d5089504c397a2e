"""Epoch checkpoints on disk: a folder per epoch that appears by atomic rename (so any that exists is
complete), its weights as safetensors with their sha256 recorded at save time and checked on every
load, and the optimizer, scheduler and RNG state for resuming (loaded with `weights_only=True`)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch

from doit_study.io import DataError, atomic_dir, sha256_file, write_json
from doit_study.modeling import WEIGHTS, load_causal_lm, placed_for_inference

STATE = "training_state.pt"
ADAPTER_WEIGHTS = "adapter_model.safetensors"  # peft's file name for LoRA weights
CHECKPOINT_RECORD = "checkpoint.json"


def epoch_dir(out_dir: Path, epoch: int) -> Path:
    return out_dir / f"epoch-{epoch:02d}"


def last_complete_epoch(out_dir: Path) -> int:
    """Epoch folders appear only by atomic rename, so any that exists is complete."""
    epochs = [
        int(p.name.split("-")[1]) for p in out_dir.glob("epoch-*") if p.is_dir() and p.name[6:].isdigit()
    ]
    return max(epochs, default=0)


def weights_file(folder: Path) -> Path:
    """A checkpoint's weights: the LoRA adapter when training used one, else the full model."""
    adapter = folder / ADAPTER_WEIGHTS
    return adapter if adapter.exists() else folder / WEIGHTS


def checkpoint_record(folder: Path) -> dict:
    """What a checkpoint recorded when it was saved: epoch, weights sha256, train loss, fingerprint."""
    return json.loads((folder / CHECKPOINT_RECORD).read_text(encoding="utf-8"))


def checkpoint_sha256(folder: Path) -> str:
    """The weights hash a checkpoint recorded when it was saved (no need to hash the weights again)."""
    return checkpoint_record(folder)["weights_sha256"]


def verified_weights(folder: Path) -> Path:
    """A checkpoint's weights file, refused unless it matches the hash recorded when it was saved."""
    weights = weights_file(folder)
    if not weights.is_file():
        raise DataError(folder, f"no weights in the checkpoint folder ({WEIGHTS} or {ADAPTER_WEIGHTS})")
    if not (folder / CHECKPOINT_RECORD).is_file():
        raise DataError(folder, f"no {CHECKPOINT_RECORD}: not a checkpoint written by the train stage")
    if sha256_file(weights) != checkpoint_sha256(folder):
        raise DataError(weights, "checkpoint weights do not match the hash recorded when they were saved")
    return weights


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
            from doit_study.sharding import load_full_weights

            missing, unexpected = load_full_weights(model, load_file(weights))
        else:
            missing, unexpected = model.load_state_dict(load_file(weights), strict=False)
        if unexpected or any(not name.endswith("lm_head.weight") for name in missing):  # lm_head is tied
            raise DataError(
                weights,
                f"checkpoint does not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})",
            )
    if sharded:
        from doit_study.sharding import load_full_optimizer

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


def load_checkpoint(
    folder: Path, base: Path | None = None, dtype: str | None = None, device_map: str | None = None
):
    """An epoch checkpoint for inference, its weights checked against the hash recorded at save time.
    A LoRA checkpoint is merged into its base model (`base`). `dtype` and `device_map`: see
    `modeling.load_causal_lm`."""
    folder = Path(folder)
    weights = verified_weights(folder)
    placement = {"dtype": dtype, "device_map": device_map}
    if weights.name == ADAPTER_WEIGHTS:
        from peft import PeftModel

        if base is None:
            raise DataError(folder, "a LoRA checkpoint needs its base model")
        model = PeftModel.from_pretrained(load_causal_lm(base, **placement), folder).merge_and_unload()
    else:
        model = load_causal_lm(folder, **placement)
    return placed_for_inference(model, device_map)
