"""Evaluation speed, measured side by side in one run on the same items and checkpoint.

Distractor scoring (perplexity of gold and distractors):
  - naive: the public code's loop, one (instruction + choice) sequence at a time, batch of one;
  - batched: every (instruction + choice) sequence, length-sorted and padded, no prefix reuse;
  - prefix reuse: the library's `continuation_nll` (instruction encoded once per item).
Generation: a plain `model.generate` call per item against the library's batched `generate_greedy`.
The scores of the three distractor paths are compared (largest relative difference), and the real
tokens each path runs are counted: their ratio is what prefix reuse saves at an equal token rate,
and prefix reuse running at the machine's float32 matmul rate (2 x parameters FLOPs per token) is
the most any implementation could gain over the naive loop here. Prints JSON.

    python bench/eval_throughput.py [--checkpoint models/sft/l-curated-n64/epoch-03] [--items 150]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from train_throughput import matmul_flops_per_second  # this folder is on sys.path when run as a script

from doit_study.core.files import read_items
from doit_study.evaluation.item_scoring import ScoringConfig, answer_budgets
from doit_study.evaluation.model_calls import (
    continuation_nll,
    continuation_nll_naive,
    generate_greedy,
    padded,
    token_logprobs,
)
from doit_study.modeling.chat import chat_ids, encode_prompt
from doit_study.modeling.checkpoints import load_checkpoint
from doit_study.modeling.folders import load_tokenizer, parameter_count
from doit_study.params.base import read_group
from doit_study.params.evaluate import EvaluateParams


@torch.inference_mode()
def batched_without_reuse(model, prompts, choices, pad_id: int, token_budget: int) -> list[list[float]]:
    """Every (prompt + choice) as its own padded row; the prompt is recomputed for every choice."""
    rows = [
        (i, k, [*prompt, *choice], len(prompt))
        for i, (prompt, options) in enumerate(zip(prompts, choices, strict=True))
        for k, choice in enumerate(options)
    ]
    rows.sort(key=lambda row: len(row[2]))
    result = [[0.0] * len(cs) for cs in choices]
    start = 0
    while start < len(rows):
        end = start + 1
        while end < len(rows) and (end - start + 1) * len(rows[end][2]) <= token_budget:
            end += 1
        batch = rows[start:end]
        ids, mask = padded([row[2] for row in batch], pad_id, "right", model.device)
        logits = model(input_ids=ids, attention_mask=mask).logits
        for r, (i, k, seq, prompt_len) in enumerate(batch):
            target = torch.tensor(seq[prompt_len:], device=model.device)
            logp = token_logprobs(logits[r, prompt_len - 1 : len(seq) - 1], target)
            result[i][k] = -logp.mean().item()
        start = end
    return result


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def max_relative_difference(a, b) -> float:
    return max(abs(x - y) / abs(y) for xs, ys in zip(a, b, strict=True) for x, y in zip(xs, ys, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--checkpoint", default="models/sft/l-curated-n64/epoch-03")
    parser.add_argument("--valid", default="data/annotated/valid")
    parser.add_argument("--items", type=int, default=150, help="items per path (format-1 and format-0 each)")
    parser.add_argument("--token-budget", type=int, default=None, help="default: evaluate.nll_token_budget")
    args = parser.parse_args()
    params = read_group(args.params, EvaluateParams)
    torch.manual_seed(0)
    model, tokenizer = load_checkpoint(Path(args.checkpoint)), load_tokenizer(args.checkpoint)
    ids = chat_ids(tokenizer)
    items = [item for path in sorted(Path(args.valid).glob("*.jsonl")) for item in read_items(path)]
    ranked = [item for item in items if item.question_format == 1][: args.items]
    generated = [item for item in items if item.question_format == 0][::3][: args.items]

    prompts = [encode_prompt(tokenizer, item.messages) for item in ranked]
    choices = [
        [[*tokenizer.encode(c, add_special_tokens=False), ids.end_of_turn] for c in item.choices]
        for item in ranked
    ]
    budget = args.token_budget or params.nll_token_budget
    # real tokens each path runs through the model: the most prefix reuse can save at an equal rate
    naive_tokens = sum(len(p) + len(c) for p, cs in zip(prompts, choices, strict=True) for c in cs)
    reuse_tokens = sum(len(p) + sum(len(c) for c in cs) for p, cs in zip(prompts, choices, strict=True))
    naive, naive_s = timed(continuation_nll_naive, model, prompts, choices)
    batched, batched_s = timed(batched_without_reuse, model, prompts, choices, ids.pad, budget)
    reuse, reuse_s = timed(continuation_nll, model, prompts, choices, ids.pad, budget)

    gen_prompts = [encode_prompt(tokenizer, item.messages) for item in generated]
    by_kind = answer_budgets(
        tokenizer, generated, ScoringConfig.from_params(params)
    )  # as the evaluate stage sizes them
    budgets = [by_kind[item.answer_kind.value]["tokens"] for item in generated]
    stops = [ids.end_of_turn, ids.user, ids.assistant]

    def plain_generate():
        from transformers import GenerationConfig

        outputs = []
        for prompt, budget in zip(gen_prompts, budgets, strict=True):
            config = GenerationConfig(
                do_sample=False, max_new_tokens=budget, eos_token_id=stops, pad_token_id=ids.pad
            )
            ids_in = torch.tensor([prompt], device=model.device)
            outputs.append(model.generate(input_ids=ids_in, generation_config=config))
        return outputs

    _, plain_s = timed(plain_generate)
    _, greedy_s = timed(generate_greedy, model, gen_prompts, budgets, stops, ids.pad, params.generation_batch)
    # a forward pass costs 2 x parameters FLOPs per token: no path runs faster than this rate
    forward_bound = matmul_flops_per_second() / (2 * parameter_count(model))
    print(
        json.dumps(
            {
                "checkpoint": args.checkpoint,
                "parameters": parameter_count(model),
                "threads": torch.get_num_threads(),
                "distractor_items": len(ranked),
                "token_budget": budget,
                "distractor_seconds": {
                    "naive": naive_s,
                    "batched_no_reuse": batched_s,
                    "prefix_reuse": reuse_s,
                },
                "tokens": {"naive": naive_tokens, "prefix_reuse": reuse_tokens},
                "token_ratio_naive_to_prefix_reuse": naive_tokens / reuse_tokens,
                "tokens_per_second": {
                    "naive": naive_tokens / naive_s,
                    "prefix_reuse": reuse_tokens / reuse_s,
                },
                "forward_bound_tokens_per_second": forward_bound,
                "speedup_vs_naive_at_the_bound": naive_s / (reuse_tokens / forward_bound),
                "speedup_vs_naive": naive_s / reuse_s,
                "speedup_vs_batched_no_reuse": batched_s / reuse_s,
                "max_relative_difference": {
                    "prefix_reuse_vs_naive": max_relative_difference(reuse, naive),
                    "batched_no_reuse_vs_naive": max_relative_difference(batched, naive),
                },
                "generation_items": len(generated),
                "generation_seconds": {"plain_generate_loop": plain_s, "batched_greedy": greedy_s},
                "generation_speedup": plain_s / greedy_s,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
