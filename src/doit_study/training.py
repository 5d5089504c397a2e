"""The training loop shared by pretraining and SFT: AdamW, linear decay from peak to end learning
rate, global batch by gradient accumulation, length-grouped batches, a checkpoint after every epoch
(model, optimizer, scheduler, RNG) written atomically, and resume from the last complete epoch.

The loss of a global batch is the sum of token losses over its micro-batches divided by the number
of trained tokens in the whole global batch, so accumulation gives the same gradient as one big
batch. Batch order of epoch e depends only on (seed, e): a resumed run sees the same batches.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn import functional

from doit_study.chat import IGNORE_INDEX
from doit_study.io import DataError, atomic_dir, sha256_file, write_json
from doit_study.modeling import WEIGHTS

Example = tuple[list[int], list[int]]  # (input_ids, labels)
STATE = "training_state.pt"
CHECKPOINT_RECORD = "checkpoint.json"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    peak_lr: float
    end_lr: float
    global_batch: int
    micro_batch: int
    seed: int = 0
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    group_size: int = 50  # micro-batches per length group: longer groups, less padding, less shuffling


def length_grouped_batches(
    lengths: Sequence[int], micro_batch: int, group_size: int, seed: int, epoch: int
) -> list[list[int]]:
    """Micro-batches of similar length: shuffle, sort within groups of group_size batches, shuffle
    the batches. Deterministic in (seed, epoch)."""
    rng = random.Random(f"{seed}:batches:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    span = micro_batch * group_size
    batches = []
    for start in range(0, len(order), span):
        group = sorted(order[start : start + span], key=lambda i: (lengths[i], i))
        batches += [group[i : i + micro_batch] for i in range(0, len(group), micro_batch)]
    rng.shuffle(batches)
    return batches


def collate(examples: Sequence[Example], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        attention[row, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention}


def token_loss_sum(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over labelled positions, and how many there were."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    targets = batch["labels"][:, 1:]
    loss = functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.size(-1)).float(),
        targets.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    return loss, int((targets != IGNORE_INDEX).sum())


def steps_per_epoch(n_examples: int, config: TrainConfig) -> int:
    return math.ceil(math.ceil(n_examples / config.micro_batch) / accumulation(config))


def accumulation(config: TrainConfig) -> int:
    if config.global_batch % config.micro_batch:
        raise ValueError("global_batch must be a multiple of micro_batch")
    return config.global_batch // config.micro_batch


def make_optimizer(model, config: TrainConfig, total_steps: int):
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]  # norms and biases
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.peak_lr,
        betas=(config.beta1, config.beta2),
    )
    floor = config.end_lr / config.peak_lr

    def linear(step: int) -> float:
        return 1.0 - (1.0 - floor) * min(step, total_steps) / max(total_steps, 1)

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, linear)


def epoch_dir(out_dir: Path, epoch: int) -> Path:
    return out_dir / f"epoch-{epoch:02d}"


def last_complete_epoch(out_dir: Path) -> int:
    """Epoch folders appear only by atomic rename, so any that exists is complete."""
    epochs = [
        int(p.name.split("-")[1]) for p in out_dir.glob("epoch-*") if p.is_dir() and p.name[6:].isdigit()
    ]
    return max(epochs, default=0)


def save_checkpoint(out_dir: Path, epoch: int, model, tokenizer, optimizer, scheduler, extra: dict) -> Path:
    target = epoch_dir(out_dir, epoch)
    with atomic_dir(target) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        torch.save(
            {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "epoch": epoch,
            },
            Path(tmp) / STATE,
        )
        write_json(
            Path(tmp) / CHECKPOINT_RECORD,
            {"epoch": epoch, "weights_sha256": sha256_file(Path(tmp) / WEIGHTS), **extra},
        )
    return target


def restore_checkpoint(folder: Path, model, optimizer, scheduler) -> None:
    from safetensors.torch import load_file

    record = json.loads((folder / CHECKPOINT_RECORD).read_text(encoding="utf-8"))
    if sha256_file(folder / WEIGHTS) != record["weights_sha256"]:
        raise DataError(
            folder / WEIGHTS, "checkpoint weights do not match the hash recorded when they were saved"
        )
    missing, unexpected = model.load_state_dict(load_file(folder / WEIGHTS), strict=False)
    if unexpected or any(not name.endswith("lm_head.weight") for name in missing):  # lm_head is tied
        raise DataError(
            folder / WEIGHTS,
            f"checkpoint does not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})",
        )
    state = torch.load(folder / STATE, weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])


@dataclass
class StepLog:
    epoch: int
    step: int
    loss: float
    lr: float
    tokens_per_second: float
    padding_fraction: float


def train(
    model,
    tokenizer,
    examples: Sequence[Example],
    config: TrainConfig,
    out_dir: Path,
    on_step: Callable[[StepLog], None] | None = None,
    on_epoch: Callable[[int, Path, float], None] | None = None,
) -> Path:
    """Train for config.epochs, resuming after the last complete epoch in out_dir; return the last
    checkpoint folder. The same config and data give bit-identical checkpoints on CPU."""
    if not examples:
        raise ValueError("no training examples")
    torch.manual_seed(config.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    total_steps = steps_per_epoch(len(examples), config) * config.epochs
    optimizer, scheduler = make_optimizer(model, config, total_steps)
    done = last_complete_epoch(out_dir)
    if done:
        restore_checkpoint(epoch_dir(out_dir, done), model, optimizer, scheduler)
    lengths = [len(ids) for ids, _ in examples]
    pad_id = tokenizer.pad_token_id
    accumulate = accumulation(config)
    model.train()
    progress = _Progress(total_steps, initial=steps_per_epoch(len(examples), config) * done)
    for epoch in range(done + 1, config.epochs + 1):
        batches = length_grouped_batches(lengths, config.micro_batch, config.group_size, config.seed, epoch)
        epoch_loss = epoch_tokens = 0.0
        for start in range(0, len(batches), accumulate):
            started = time.perf_counter()
            group = [
                collate([examples[i] for i in batch], pad_id) for batch in batches[start : start + accumulate]
            ]
            trained = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in group)
            step_loss = 0.0
            for batch in group:
                loss, _ = token_loss_sum(model, batch)
                (loss / max(trained, 1)).backward()
                step_loss += loss.item()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            seen = sum(int(b["attention_mask"].sum()) for b in group)
            width = sum(b["input_ids"].numel() for b in group)
            epoch_loss, epoch_tokens = epoch_loss + step_loss, epoch_tokens + trained
            log = StepLog(
                epoch,
                scheduler.last_epoch,
                step_loss / max(trained, 1),
                scheduler.get_last_lr()[0],
                width / (time.perf_counter() - started),
                1 - seen / width,
            )
            progress.update(log)
            if on_step:
                on_step(log)
        folder = save_checkpoint(
            out_dir,
            epoch,
            model,
            tokenizer,
            optimizer,
            scheduler,
            {"train_loss": epoch_loss / max(epoch_tokens, 1), "config": asdict(config)},
        )
        if on_epoch:
            on_epoch(epoch, folder, epoch_loss / max(epoch_tokens, 1))
    progress.close()
    return epoch_dir(out_dir, config.epochs)


class _Progress:
    """A tqdm bar on a terminal; plain log lines (every 10% of steps) when output is not one."""

    def __init__(self, total: int, initial: int):
        from tqdm import tqdm

        self.total, self.count = total, initial
        self.bar = (
            tqdm(total=total, initial=initial, unit="step", desc="train") if sys.stderr.isatty() else None
        )
        self.every = max(1, total // 10)

    def update(self, log: StepLog) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.set_postfix(
                loss=f"{log.loss:.3f}", lr=f"{log.lr:.2e}", tok_s=f"{log.tokens_per_second:.0f}"
            )
            self.bar.update(1)
        elif self.count % self.every == 0 or self.count == self.total:
            print(
                f"train step {self.count}/{self.total} epoch {log.epoch} loss {log.loss:.4f} lr {log.lr:.2e} "
                f"tokens/s {log.tokens_per_second:.0f}",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def remove_checkpoints(out_dir: Path, keep: set[int]) -> None:
    for folder in out_dir.glob("epoch-*"):
        if int(folder.name.split("-")[1]) not in keep:
            shutil.rmtree(folder)
