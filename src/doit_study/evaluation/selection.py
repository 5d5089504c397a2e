"""Checkpoint selection on valid (the paper's rule), and keeping only the selected checkpoint.

The evaluate stage scores every epoch checkpoint that can be chosen (at or after
`evaluate.min_epoch`) on valid and takes the best (`select_best_epoch`). With
`train.keep_checkpoints: best` the train stage does that itself after every epoch, as Hugging Face's
Trainer does with `load_best_model_at_end` and `save_total_limit`: it keeps the newest checkpoint
(to resume from) and the best so far, and at the end only the best, so a 33b study stores and pushes
one checkpoint per setting instead of fifteen. Every epoch's valid summary and predictions stay
beside the checkpoint (`selection.json`, `valid/epoch-NN.jsonl`); the evaluate stage reads them
instead of scoring checkpoints that are gone. Both ways score the same checkpoints with the same
function, so they give the same metrics.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from doit_study.core.files import (
    DataError,
    read_json,
    read_json_lines,
    sha256_text,
    write_json,
    write_json_lines,
)
from doit_study.core.schema import Item
from doit_study.evaluation.item_scoring import (
    Prediction,
    ScoringConfig,
    score_items,
    summarise,
    with_progress,
)
from doit_study.evaluation.setting_metrics import in_domain_mean
from doit_study.modeling.checkpoints import SELECTION_RECORD, VALID_PREDICTIONS, epoch_dir, load_checkpoint
from doit_study.modeling.folders import load_tokenizer
from doit_study.params.evaluate import EvaluateParams


def select_best_epoch(valid_scores: Mapping[int, float], min_epoch: int) -> int:
    """The epoch with the highest validation score at or after `min_epoch`; ties go to the earlier."""
    eligible = sorted(epoch for epoch in valid_scores if epoch >= min_epoch)
    if not eligible:
        raise ValueError(f"no checkpoint at or after epoch {min_epoch} (have {sorted(valid_scores)})")
    return max(eligible, key=lambda epoch: valid_scores[epoch])  # max keeps the first of equals


@dataclass(frozen=True)
class Selection:
    """How a setting's checkpoint is chosen: each eligible epoch (at or after `min_epoch`) scored on
    valid (`valid_per_ability` items of each ability) under `scoring`, checkpoints loaded with
    `device_map`."""

    scoring: ScoringConfig
    min_epoch: int
    valid_per_ability: int | None
    device_map: str | None

    @classmethod
    def from_params(cls, evaluate: EvaluateParams, scoring: ScoringConfig) -> Selection:
        return cls(scoring, evaluate.min_epoch, evaluate.valid_per_ability, evaluate.device_map)

    def spec(self, valid: Sequence[Item]) -> dict:
        """Everything a selection depends on besides the checkpoints: pruned checkpoints cannot be
        scored again, so a selection is only reused under the same spec."""
        items = json.dumps([item.to_json() for item in valid], sort_keys=True, ensure_ascii=False)
        return {
            "min_epoch": self.min_epoch,
            "valid_per_ability": self.valid_per_ability,
            "scoring": asdict(self.scoring),
            "valid_sha256": sha256_text(items),
        }


def load_for_scoring(folder: Path, base: Path, config: ScoringConfig, device_map: str | None = None):
    """(model, tokenizer) of one epoch checkpoint, as scoring reads it (hash checked, LoRA merged)."""
    return load_checkpoint(folder, base, config.dtype, device_map), load_tokenizer(folder)


def score_on_valid(
    model, tokenizer, valid: Sequence[Item], config: ScoringConfig, label: str
) -> tuple[list[Prediction], dict]:
    """(predictions, per-type summary) of one loaded epoch checkpoint on the valid items."""
    predictions = with_progress(label, len(valid), score_items, model, tokenizer, valid, config)
    return predictions, summarise(valid, predictions)


def predictions_file(folder: Path, epoch: int) -> Path:
    return Path(folder) / f"valid-epoch-{epoch:02d}.jsonl"


class CheckpointKeeper:
    """Scores each new epoch checkpoint on valid and removes the ones that can no longer be chosen.

    The record is written before anything is removed, and a checkpoint is removed by renaming it
    out of the `epoch-NN` namespace first, so a run killed at any moment resumes correctly."""

    def __init__(self, keep: KeepBest, out_dir: Path, fingerprint: str):
        self.out_dir, self.base, self.valid, self.label = Path(out_dir), keep.base, keep.valid, keep.label
        self.device_map, self.config = keep.selection.device_map, keep.selection.scoring
        spec = keep.spec
        self.path = self.out_dir / SELECTION_RECORD
        record = read_json(self.path) if self.path.is_file() else {}
        if record.get("fingerprint") != fingerprint:  # none yet, or another run's: start over
            shutil.rmtree(self.out_dir / VALID_PREDICTIONS, ignore_errors=True)
            record = {"fingerprint": fingerprint, "spec": spec, "epochs": {}, "best_epoch": None}
            record["complete"] = False
        self.record = record

    @property
    def scores(self) -> dict[int, float]:
        return {int(epoch): entry["valid_score"] for epoch, entry in self.record["epochs"].items()}

    def complete(self) -> bool:
        """True when an earlier run of the same setting finished and kept its best checkpoint."""
        best = self.record["best_epoch"]
        return self.record["complete"] and epoch_dir(self.out_dir, best).is_dir()

    def add(self, epoch: int, folder: Path, sha256: str, train_loss: float) -> None:
        min_epoch = self.record["spec"]["min_epoch"]
        if epoch >= min_epoch and str(epoch) not in self.record["epochs"]:  # earlier ones cannot be chosen
            label = f"{self.label} valid epoch {epoch}"
            loaded = load_for_scoring(folder, self.base, self.config, self.device_map)
            predictions, summary = score_on_valid(*loaded, self.valid, self.config, label)
            write_json_lines(
                predictions_file(self.out_dir / VALID_PREDICTIONS, epoch), (p.to_json() for p in predictions)
            )
            self.record["epochs"][str(epoch)] = {
                "valid_score": in_domain_mean(summary),
                "summary": summary,
                "sha256": sha256,
                "train_loss": train_loss,
            }
            write_json(self.path, self.record)
        scores = self.scores
        best = [select_best_epoch(scores, min_epoch)] if scores else []
        self._keep({epoch, *best})

    def finish(self) -> int:
        """Select the best epoch, record it, and remove every other checkpoint; the best epoch."""
        try:
            best = select_best_epoch(self.scores, self.record["spec"]["min_epoch"])
        except ValueError as error:
            raise DataError(self.path, str(error), None, "evaluate.min_epoch") from None
        self.record.update(best_epoch=best, complete=True)
        write_json(self.path, self.record)
        self._keep({best})
        return best

    def _keep(self, epochs: set[int]) -> None:
        for folder in sorted(self.out_dir.glob("epoch-*")):
            if folder.is_dir() and int(folder.name[6:]) not in epochs:
                doomed = folder.with_name(f".{folder.name}.pruned")
                shutil.rmtree(doomed, ignore_errors=True)
                folder.rename(doomed)  # atomic: a half-deleted folder is never taken for a checkpoint
                shutil.rmtree(doomed)
        for doomed in self.out_dir.glob(".epoch-*.pruned"):  # left by a run killed while removing
            shutil.rmtree(doomed)


@dataclass(frozen=True)
class KeepBest:
    """`train.keep_checkpoints: best`, as the train stage hands it to fine-tuning: what the
    selection is made of (part of the run's fingerprint) and a keeper for each run."""

    selection: Selection
    valid: Sequence[Item]
    base: Path
    label: str

    @property
    def spec(self) -> dict:
        return self.selection.spec(self.valid)

    def keeper(self, out_dir: Path, fingerprint: str) -> CheckpointKeeper:
        return CheckpointKeeper(self, out_dir, fingerprint)


def recorded_selection(checkpoints: Path, spec: dict) -> dict | None:
    """The selection the train stage recorded (None when it kept every checkpoint): per epoch the
    valid summary and predictions, checked to be made under the spec the evaluate stage has now."""
    path = Path(checkpoints) / SELECTION_RECORD
    if not path.is_file():
        return None
    record = read_json(path)
    if not record.get("complete"):
        raise DataError(path, "the train stage did not finish selecting: run it again (dvc repro)")
    for key, value in spec.items():
        if record["spec"].get(key) != value:
            raise DataError(
                path,
                "checkpoints were selected and pruned under other evaluation params or valid data; "
                "retrain the setting (dvc repro) to select again",
                None,
                f"evaluate.{key}" if key != "valid_sha256" else "valid items",
            )
    epochs = {}
    for epoch, entry in sorted(record["epochs"].items(), key=lambda pair: int(pair[0])):
        source = predictions_file(Path(checkpoints) / VALID_PREDICTIONS, int(epoch))
        predictions = [Prediction.from_json(row) for _, row in read_json_lines(source)]
        epochs[int(epoch)] = (predictions, entry["summary"])
    return epochs
