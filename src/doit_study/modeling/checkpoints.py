"""Epoch checkpoints on disk, as every stage reads them: a folder per epoch that appears by atomic
rename (so any that exists is complete), its weights as safetensors with their sha256 recorded at
save time and checked on every load. Writing them, with the optimizer state a run resumes from, is
`training.resume`'s."""

from __future__ import annotations

import shutil
from pathlib import Path

from doit_study.core.files import DataError, read_json, sha256_file
from doit_study.modeling.folders import WEIGHTS, check_safetensors, load_causal_lm, placed_for_inference

ADAPTER_WEIGHTS = "adapter_model.safetensors"  # peft's file name for LoRA weights
CHECKPOINT_RECORD = "checkpoint.json"
# keep-best's record and the valid predictions beside the kept checkpoint (evaluation.selection)
SELECTION_RECORD = "selection.json"
VALID_PREDICTIONS = "valid"


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
    return read_json(folder / CHECKPOINT_RECORD, "missing: not a checkpoint written by the train stage")


def checkpoint_sha256(folder: Path) -> str:
    """The weights hash a checkpoint recorded when it was saved (no need to hash the weights again)."""
    return checkpoint_record(folder)["weights_sha256"]


def verified_weights(folder: Path) -> Path:
    """A checkpoint's weights file, refused unless it matches the hash recorded when it was saved and
    its safetensors header describes the whole file (a truncated file under a recomputed hash)."""
    weights = weights_file(folder)
    if not weights.is_file():
        raise DataError(folder, f"no weights in the checkpoint folder ({WEIGHTS} or {ADAPTER_WEIGHTS})")
    if not (folder / CHECKPOINT_RECORD).is_file():
        raise DataError(folder, f"no {CHECKPOINT_RECORD}: not a checkpoint written by the train stage")
    if sha256_file(weights) != checkpoint_sha256(folder):
        raise DataError(weights, "checkpoint weights do not match the hash recorded when they were saved")
    check_safetensors(weights)
    return weights


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


def forget_selection(out_dir: Path) -> None:
    """Remove a selection record and its valid predictions (the run keeps every checkpoint now)."""
    (Path(out_dir) / SELECTION_RECORD).unlink(missing_ok=True)
    shutil.rmtree(Path(out_dir) / VALID_PREDICTIONS, ignore_errors=True)
