"""Fine-tuning throughput with padded batches against packed rows, side by side in one run on the
same examples and the same model: useful tokens (the examples' own) per second and the padding
fraction of

- padded: random micro-batches, each padded to its longest example (how the default study draws
  them, `optim.length_group: 1`);
- length-grouped: micro-batches sorted by length within groups (`length_group`, default 50), less
  padding, but replicate seeds then share batches (docs/analysis.md);
- packed: the random global batches of `padded`, their examples packed into rows of `max_length`
  tokens (`train.packing: true`).

`padded` and `packed` take the same examples in every step, so their step losses must agree within
rounding: the largest relative difference is printed. Prints JSON.

    python bench/packing.py [--params params.yaml] [--subset data/subsets/curated-n64.jsonl]
        [--tokenizer models/tokenizer] [--steps 12] [--length-group 50]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import torch
from accelerate import Accelerator

from doit_study.core.files import read_items
from doit_study.modeling.chat import encode_dialogue
from doit_study.modeling.folders import TinyLlama, load_tokenizer, new_tiny_llama
from doit_study.params.base import read_group
from doit_study.params.foundation import FoundationParams
from doit_study.params.train import TrainParams
from doit_study.training.loop import (
    _global_step,
    accumulation,
    config_from,
    length_grouped_batches,
    make_optimizer,
    step_batches,
)

WARM_UP = 2  # steps not timed: allocators and kernels


def run(mode_config, examples, tokenizer, spec, steps: int, accelerator) -> dict:
    torch.manual_seed(0)
    model = new_tiny_llama(spec, tokenizer, seed=0).train()
    optimizer, scheduler = make_optimizer(model, mode_config, steps + WARM_UP)
    lengths = [len(ids) for ids, _ in examples]
    batches = length_grouped_batches(
        lengths, mode_config.micro_batch, mode_config.length_group, mode_config.seed, 1
    )
    per_step = accumulation(mode_config)
    useful = computed = 0
    seconds, losses = 0.0, []
    for step in range(steps + WARM_UP):
        drawn = batches[step * per_step : (step + 1) * per_step]
        if not drawn:
            break
        started = time.perf_counter()
        group = step_batches(examples, drawn, mode_config, tokenizer.pad_token_id)
        step_loss, total = _global_step(model, group, accelerator)  # the training loop's own step
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(step_loss / total)
        if step >= WARM_UP:
            seconds += time.perf_counter() - started
            useful += sum(lengths[i] for batch in drawn for i in batch)
            computed += sum(b["input_ids"].numel() for b in group)
    return {
        "useful_tokens_per_second": round(useful / seconds),
        "padding_fraction": round(1 - useful / computed, 4),
        "forwards_per_step": len(group),
        "steps_timed": len(losses) - WARM_UP,
        "losses": losses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--subset", default="data/subsets/curated-n64.jsonl")
    parser.add_argument("--tokenizer", default="models/tokenizer")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--length-group", type=int, default=50)
    args = parser.parse_args()
    foundation, train = read_group(args.params, FoundationParams), read_group(args.params, TrainParams)
    name, size = max(foundation.sizes.items(), key=lambda kv: kv[1].hidden_size * kv[1].layers)
    spec = TinyLlama(size.hidden_size, size.layers, size.heads, size.intermediate_size, train.max_length)
    tokenizer = load_tokenizer(args.tokenizer)
    encoded = [
        encode_dialogue(tokenizer, item.messages, train.max_length) for item in read_items(args.subset)
    ]
    examples = [(e.input_ids, e.labels) for e in encoded]
    base = config_from(train.optim, seed=0)
    modes = {
        "padded": replace(base, length_group=1),
        "length_grouped": replace(base, length_group=args.length_group),
        "packed": replace(base, length_group=1, pack_length=train.max_length),
    }
    accelerator = Accelerator(cpu=True)
    found = {
        mode: run(config, examples, tokenizer, spec, args.steps, accelerator)
        for mode, config in modes.items()
    }
    apart = max(
        abs(a - b) / abs(b) for a, b in zip(found["packed"]["losses"], found["padded"]["losses"], strict=True)
    )
    for result in found.values():
        del result["losses"]
    padded_rate = found["padded"]["useful_tokens_per_second"]
    print(
        json.dumps(
            {
                "model": name,
                "threads": torch.get_num_threads(),
                "examples": len(examples),
                "max_length": train.max_length,
                "global_batch": base.global_batch,
                "micro_batch": base.micro_batch,
                "modes": found,
                "packed_over_padded": round(found["packed"]["useful_tokens_per_second"] / padded_rate, 2),
                "packed_over_length_grouped": round(
                    found["packed"]["useful_tokens_per_second"]
                    / found["length_grouped"]["useful_tokens_per_second"],
                    2,
                ),
                "step_loss_largest_relative_difference_packed_vs_padded": apart,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
