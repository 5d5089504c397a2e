"""The training loop shared by pretraining and SFT: AdamW, linear decay from peak to end learning
rate, global batch by gradient accumulation, random or length-grouped batches, padded or packed into
rows (`pack_length`: padding-free), a checkpoint after every epoch (model, optimizer, scheduler,
RNG) written atomically, and resume from the last complete epoch.

The loss of a global batch is the sum of token losses over its micro-batches divided by the number
of trained tokens in the whole global batch, so accumulation gives the same gradient as one big
batch. Batch order of epoch e depends only on (seed, e): a resumed run sees the same batches.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn import functional

from doit_study.core.progress import Progress
from doit_study.modeling.chat import IGNORE_INDEX
from doit_study.modeling.checkpoints import checkpoint_record, epoch_dir, last_complete_epoch
from doit_study.training.resume import STATE, drop_stale_checkpoints, restore_checkpoint, save_checkpoint

Example = tuple[list[int], list[int]]  # (input_ids, labels)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    peak_lr: float
    end_lr: float
    global_batch: int
    micro_batch: int
    length_group: int  # micro-batches per length group (1: random batches)
    seed: int = 0
    pack_length: int | None = None  # a global batch's examples packed into rows of this many tokens
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95


def config_from(optim, seed: int) -> TrainConfig:
    """A TrainConfig from a params `optim` group (epochs, peak_lr, end_lr, global_batch, micro_batch)."""
    return TrainConfig(
        epochs=optim.epochs,
        peak_lr=optim.peak_lr,
        end_lr=optim.end_lr,
        global_batch=optim.global_batch,
        micro_batch=optim.micro_batch,
        length_group=optim.length_group,
        seed=seed,
    )


def length_grouped_batches(
    lengths: Sequence[int], micro_batch: int, length_group: int, seed: int, epoch: int
) -> list[list[int]]:
    """Micro-batches of similar length: shuffle, sort within groups of length_group batches, shuffle
    the batches. Deterministic in (seed, epoch)."""
    rng = random.Random(f"{seed}:batches:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    span = micro_batch * length_group
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


def packed_rows(
    lengths: Mapping[int, int] | Sequence[int], indices: Iterable[int], row_length: int
) -> list[list[int]]:
    """The examples `indices` in rows of at most `row_length` tokens (a longer example: a row of its
    own), first fit in decreasing length, ties by index: which examples share a row follows from
    which share the global batch, so it changes with the seed."""
    rows: list[list[int]] = []
    room: list[int] = []
    for i in sorted(indices, key=lambda i: (-lengths[i], i)):
        row = next((r for r, free in enumerate(room) if lengths[i] <= free), None)
        if row is None:
            rows.append([])
            room.append(max(row_length, lengths[i]))
            row = len(rows) - 1
        rows[row].append(i)
        room[row] -= lengths[i]
    return rows


def collate_packed(rows: Sequence[Sequence[Example]], pad_id: int) -> dict[str, torch.Tensor]:
    """Rows of examples laid end to end, without an attention mask: position ids restart at each
    example, from which transformers' sdpa and eager attention build a block-diagonal mask (flash
    attention takes its variable-length path only for one row: `check_packing`). An example's first
    token is no target, so no loss crosses from one example into the next; a row's tail is padding,
    its own block, unlabelled."""
    width = max(sum(len(ids) for ids, _ in row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        start = 0
        for ids, labs in row:
            end = start + len(ids)
            input_ids[r, start:end], labels[r, start + 1 : end] = torch.tensor(ids), torch.tensor(labs[1:])
            positions[r, start:end] = torch.arange(len(ids))
            start = end
        positions[r, start:] = torch.arange(width - start)
    return {"input_ids": input_ids, "labels": labels, "position_ids": positions}


def step_batches(
    examples: Sequence[Example], batches: Sequence[Sequence[int]], config: TrainConfig, pad_id: int
) -> list[dict[str, torch.Tensor]]:
    """One global batch's micro-batches: its examples padded per micro-batch, or (`pack_length`)
    packed into rows, `micro_batch` rows per forward. Either way the same examples make the step."""
    if config.pack_length is None:
        return [collate([examples[i] for i in batch], pad_id) for batch in batches]
    lengths = {i: len(examples[i][0]) for batch in batches for i in batch}
    rows = packed_rows(lengths, sorted(lengths), config.pack_length)
    return [
        collate_packed([[examples[i] for i in row] for row in rows[k : k + config.micro_batch]], pad_id)
        for k in range(0, len(rows), config.micro_batch)
    ]


def check_packing(model, config: TrainConfig) -> None:
    """Packed rows need attention that reads them from the position ids: sdpa and eager do for any
    number of rows; flash attention only for one row per forward, and would otherwise attend across
    the examples of a row without a word."""
    implementation = str(getattr(model.config, "_attn_implementation", ""))
    if config.pack_length is not None and "flash" in implementation and config.micro_batch > 1:
        raise ValueError(
            f"packed rows under {implementation} need micro_batch 1 (one row per forward), not "
            f"{config.micro_batch}: set train.optim.micro_batch to 1, or train.packing to false"
        )


def token_loss_sum(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over labelled positions, and how many there were."""
    inputs = {key: batch[key] for key in ("input_ids", "attention_mask", "position_ids") if key in batch}
    # no cache: training needs none, and transformers reads packed position ids only without one
    logits = model(**inputs, use_cache=False).logits
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
    trainable = [p for p in model.parameters() if p.requires_grad]  # with LoRA, only the adapters
    decay = [p for p in trainable if p.ndim >= 2]
    no_decay = [p for p in trainable if p.ndim < 2]  # norms and biases
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.peak_lr,
        betas=(config.beta1, config.beta2),
    )
    floor = config.end_lr / config.peak_lr

    def linear(step: int) -> float:
        return 1.0 - (1.0 - floor) * min(step, total_steps) / max(total_steps, 1)

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, linear)


@dataclass
class StepLog:
    epoch: int
    step: int
    loss: float
    lr: float
    tokens_per_second: float  # every position computed, padding included
    padding_fraction: float
    useful_tokens_per_second: float  # the examples' own tokens


def train(
    model,
    tokenizer,
    examples: Sequence[Example],
    config: TrainConfig,
    out_dir: Path,
    on_step: Callable[[StepLog], None] | None = None,
    on_epoch: Callable[[int, Path, float], None] | None = None,
    fingerprint: str = "",
    sharding: str = "none",
) -> Path:
    """Train for config.epochs, resuming after the last complete epoch in out_dir; return the last
    checkpoint folder. The same config and data give bit-identical checkpoints on CPU. `on_epoch`
    is called for every epoch checkpoint the run ends with, those found complete on resuming first
    (except folders the caller removed: only the newest is needed to resume).

    Under `accelerate launch` with several processes, each process takes every world-th micro-batch
    of a global batch and DDP averages the gradients; the global batch, and so the update, is the
    same as in one process. Only the main process writes checkpoints and calls the callbacks.

    With `sharding="fsdp"` and several processes, the model is sharded (doit_study.modeling.sharding) instead
    of replicated; checkpoints are the same full folders.

    `fingerprint` names what the run is (config, data, base model): checkpoints left by a run with
    another fingerprint are stale and removed instead of resumed."""
    from accelerate import Accelerator

    if not examples:
        raise ValueError("no training examples")
    # on a machine without GPUs, accelerate runs several processes only when told it is on CPU
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    torch.manual_seed(config.seed)
    if accelerator.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        drop_stale_checkpoints(out_dir, fingerprint)
    accelerator.wait_for_everyone()
    total_steps = steps_per_epoch(len(examples), config) * config.epochs
    sharded = sharding == "fsdp" and accelerator.num_processes > 1
    if sharded:  # before the optimizer, which must hold the sharded parameters
        from doit_study.modeling.sharding import shard_model

        shard_model(model, accelerator.mixed_precision)  # and moves each shard to its device
    else:
        model.to(accelerator.device)
    optimizer, scheduler = make_optimizer(model, config, total_steps)
    done = last_complete_epoch(out_dir)
    if done:
        restore_checkpoint(epoch_dir(out_dir, done), model, optimizer, scheduler, sharded)
    if on_epoch and accelerator.is_main_process:  # epochs an earlier, interrupted run finished
        for epoch in range(1, done + 1):
            folder = epoch_dir(out_dir, epoch)
            if not folder.is_dir():  # pruned by the caller (train.keep_checkpoints: best)
                continue
            on_epoch(epoch, folder, checkpoint_record(folder)["train_loss"])
    wrapped = accelerator.prepare_model(model) if accelerator.num_processes > 1 and not sharded else model
    lengths = [len(ids) for ids, _ in examples]
    wrapped.train()
    initial = steps_per_epoch(len(examples), config) * done
    progress = Progress("train", total_steps, "step", initial, accelerator.is_main_process)
    for epoch in range(done + 1, config.epochs + 1):
        batches = length_grouped_batches(lengths, config.micro_batch, config.length_group, config.seed, epoch)
        epoch_loss = epoch_tokens = 0.0
        for start in range(0, len(batches), accumulation(config)):
            started = time.perf_counter()
            drawn = batches[start : start + accumulation(config)]
            group = step_batches(examples, drawn, config, tokenizer.pad_token_id)
            step_loss, trained = _global_step(wrapped, group, accelerator)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            seen = sum(lengths[i] for batch in drawn for i in batch)
            width = sum(b["input_ids"].numel() for b in group)
            epoch_loss, epoch_tokens = epoch_loss + step_loss, epoch_tokens + trained
            seconds = time.perf_counter() - started
            log = StepLog(
                epoch,
                scheduler.last_epoch,
                step_loss / max(trained, 1),
                scheduler.get_last_lr()[0],
                width / seconds,
                1 - seen / width,
                seen / seconds,
            )
            rate = f"useful tokens/s {log.useful_tokens_per_second:.0f} (padding {log.padding_fraction:.0%})"
            progress.update(1, f"epoch {log.epoch} loss {log.loss:.4f} lr {log.lr:.2e} {rate}")
            if on_step and accelerator.is_main_process:
                on_step(log)
        record = {
            "train_loss": epoch_loss / max(epoch_tokens, 1),
            "config": asdict(config),
            "fingerprint": fingerprint,
            "processes": accelerator.num_processes,
        }
        full = None
        if sharded:  # gathering the shards takes every process
            from doit_study.modeling.sharding import full_state

            full = full_state(model, optimizer)
            record["sharding"] = sharding
        if accelerator.is_main_process:
            folder = save_checkpoint(out_dir, epoch, model, tokenizer, optimizer, scheduler, record, full)
            # resuming needs only the newest optimizer state: older copies would double the disk used
            epoch_dir(out_dir, epoch - 1).joinpath(STATE).unlink(missing_ok=True)
            if on_epoch:
                on_epoch(epoch, folder, record["train_loss"])
        accelerator.wait_for_everyone()
    progress.close()
    return epoch_dir(out_dir, config.epochs)


def _global_step(model, group: list[dict], accelerator) -> tuple[float, int]:
    """Forward and backward of one global batch; returns (summed token loss, trained tokens).

    Each process's loss is scaled by world / trained tokens of the whole global batch, so the
    gradient DDP averages equals the single-process gradient. A process with no micro-batch left
    runs the group's first micro-batch with zero weight, forward and backward, so every process
    joins each gradient reduction (a backward without a forward skips DDP's and FSDP's hooks and
    leaves the other processes waiting)."""
    world, rank, device = accelerator.num_processes, accelerator.process_index, accelerator.device
    trained = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in group)
    mine: list[dict | None] = list(group[rank::world])
    mine += [None] * (math.ceil(len(group) / world) - len(mine))
    local = torch.zeros((), device=device)
    for index, batch in enumerate(mine):
        sync = index == len(mine) - 1
        with contextlib.nullcontext() if sync or world == 1 else accelerator.no_sync(model):
            if batch is None:  # a forward too: DDP and FSDP hook their gradient reduction there
                loss = token_loss_sum(model, _on(group[0], device))[0] * 0.0
            else:
                loss, _ = token_loss_sum(model, _on(batch, device))
                local = local + loss.detach()
            (loss * world / max(trained, 1)).backward()
    total = accelerator.reduce(local, reduction="sum") if world > 1 else local
    return float(total), trained


def _on(batch: dict, device) -> dict:
    """Only the micro-batches a process runs are copied to its device."""
    return {name: tensor.to(device) for name, tensor in batch.items()}
