"""Scoring beyond the items as written (docs/designs.md): FLAN's two promptings, each chain item
(an answer that reasons before its final answer) asked again with the direct instruction and with
the chain-of-thought instruction appended, the answer parsed after the chain either way; and
LIMIT's open answers, a free greedy answer to every open-ended item (answer kind `open`) within a
length budget of its own, stored for the judge so that judging again never regenerates."""

from __future__ import annotations

import math
from collections.abc import Sequence

from doit_study.core.schema import PROMPTINGS, AnswerKind, Item
from doit_study.evaluation.item_scoring import Prediction, ScoringConfig, score_items, summarise
from doit_study.evaluation.model_calls import generate_greedy
from doit_study.items.design_subsets import has_chain, with_instruction
from doit_study.modeling.chat import chat_ids, encode_prompt


def score_promptings(
    model, tokenizer, test: Sequence[Item], config: ScoringConfig, instructions: dict[str, str]
) -> dict[str, tuple[list[Prediction], dict]]:
    """Per prompting: the chain items' predictions with its instruction appended, and their summary."""
    chains = [item for item in test if has_chain(item)]
    if not chains:
        return {}
    found = {}
    for name in PROMPTINGS:
        asked = [with_instruction(item, instructions[name]) for item in chains]
        predictions = score_items(model, tokenizer, asked, config)
        found[name] = (predictions, summarise(asked, predictions))
    return found


def prompting_metrics(promptings: dict[str, tuple[list, dict]]) -> dict[str, float]:
    """`test.<set>.<prompting>.acc` and `.continuous` for the sets with chain items."""
    metrics = {}
    for name, (_, summary) in promptings.items():
        for set_name, entry in summary.items():
            metrics[f"test.{set_name}.{name}.acc"] = entry["acc"]
            if "continuous" in entry:
                metrics[f"test.{set_name}.{name}.continuous"] = entry["continuous"]
    return metrics


def open_budget(tokenizer, item: Item, length_factor: float, max_new_tokens: int) -> int:
    """A free answer may run to `length_factor` times the reference's tokens, at most the cap."""
    reference = len(tokenizer.encode(item.gold, add_special_tokens=False))
    return max(1, min(max_new_tokens, math.ceil(length_factor * reference)))


def generate_open_answers(
    model, tokenizer, test: Sequence[Item], config: ScoringConfig, open_answers
) -> list[dict]:
    """Per open-ended test item: its question, reference answer, budget and the model's answer."""
    items = [item for item in test if item.answer_kind == AnswerKind.open]
    if not items:
        return []
    ids = chat_ids(tokenizer)
    prompts = [encode_prompt(tokenizer, item.messages) for item in items]
    factor, cap = open_answers.length_factor, open_answers.max_new_tokens
    budgets = [open_budget(tokenizer, item, factor, cap) for item in items]
    stops, batch = [ids.end_of_turn, ids.user], config.generation_batch
    outputs, _ = generate_greedy(
        model, prompts, budgets, stops, ids.pad, batch, min_new_tokens=config.min_new_tokens
    )
    return [
        {
            "id": item.id,
            "type": item.type,
            "task": item.task,
            "question": item.prompt_text,
            "reference": item.gold,
            "budget": budget,
            "output": tokenizer.decode(tokens, skip_special_tokens=True),
        }
        for item, budget, tokens in zip(items, budgets, outputs, strict=True)
    ]
