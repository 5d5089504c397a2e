"""Training throughput of the default study's largest model against the machine's bound.

The bound is the float32 matrix-multiply rate measured here, divided by 6 x parameters FLOPs per
token (forward + backward). Both are measured in this run. Prints one JSON object.

    python bench/train_throughput.py [--params params.yaml] [--subset data/subsets/curated-n64.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from doit_study.core.files import read_items
from doit_study.modeling.chat import encode_dialogue
from doit_study.modeling.folders import TinyLlama, load_tokenizer, new_tiny_llama, parameter_count
from doit_study.params.base import read_group
from doit_study.params.foundation import FoundationParams
from doit_study.params.train import TrainParams
from doit_study.training.loop import (
    TrainConfig,
    collate,
    length_grouped_batches,
    make_optimizer,
    token_loss_sum,
)


def matmul_flops_per_second(size: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(a, b)  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    return 2 * size**3 * repeats / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--subset", default="data/subsets/curated-n64.jsonl")
    parser.add_argument("--tokenizer", default="models/tokenizer")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--micro-batch", type=int, default=None, help="default: train.optim.micro_batch")
    args = parser.parse_args()
    foundation, train = read_group(args.params, FoundationParams), read_group(args.params, TrainParams)
    name, spec = max(foundation.sizes.items(), key=lambda kv: kv[1].hidden_size * kv[1].layers)
    tokenizer = load_tokenizer(args.tokenizer)
    model = new_tiny_llama(
        TinyLlama(spec.hidden_size, spec.layers, spec.heads, spec.intermediate_size, 512), tokenizer, seed=0
    )
    examples = [
        encode_dialogue(tokenizer, item.messages, train.max_length) for item in read_items(args.subset)
    ]
    micro = args.micro_batch or train.optim.micro_batch
    config = TrainConfig(
        epochs=1,
        peak_lr=1e-3,
        end_lr=1e-4,
        global_batch=micro,
        micro_batch=micro,
        length_group=train.optim.length_group,
    )
    optimizer, scheduler = make_optimizer(model, config, args.steps)
    batches = length_grouped_batches(
        [len(ids) for ids, _ in examples], config.micro_batch, config.length_group, 0, 1
    )
    model.train()
    real = padded = 0
    timed_tokens, timed_seconds = 0, 0.0
    for step, batch_ids in enumerate(batches[: args.steps + 2]):
        batch = collate([examples[i] for i in batch_ids], tokenizer.pad_token_id)
        started = time.perf_counter()
        loss, trained = token_loss_sum(model, batch)
        (loss / max(trained, 1)).backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        elapsed = time.perf_counter() - started
        if step >= 2:  # the first steps warm up allocators and kernels
            timed_tokens += batch["input_ids"].numel()
            timed_seconds += elapsed
            real += int(batch["attention_mask"].sum())
            padded += batch["input_ids"].numel()
    rate = matmul_flops_per_second()
    params = parameter_count(model)
    tokens_per_second = timed_tokens / timed_seconds
    bound = rate / (6 * params)
    print(
        json.dumps(
            {
                "model": name,
                "parameters": params,
                "threads": torch.get_num_threads(),
                "matmul_gflops": round(rate / 1e9, 1),
                "tokens_per_second": round(tokens_per_second),
                "bound_tokens_per_second": round(bound),
                "ratio_to_bound": round(tokens_per_second / bound, 3),
                "padding_fraction": round(1 - real / padded, 4),
                "subset": str(Path(args.subset)),
                "micro_batch": config.micro_batch,
                "steps_timed": args.steps,
            }
        )
    )


if __name__ == "__main__":
    main()
