"""Continuous scores of the gold answer: one number per item where higher is better, beside exact
match. At small scale they move with data and size long before accuracy leaves chance (AI2's
DataDecide and "Signal and Noise"; docs/evaluation.md, "Continuous scores").

Three families, one per way an item is asked:
- `option`: letters, true/false and the benchmarks: the probability of the gold option among the
  options, from the next-token log-probabilities at the answer's first position. Chance: 1/options.
- `margin`: gold plus distractors: the best distractor's mean negative log-likelihood per token
  minus the gold's (positive when the gold wins). Reference 0: no preference between them.
  Multi-select answers written as bare letters ("ABD") are options too: the gold set's
  probability among every non-empty set of the offered letters (chance: 1 / (2^k - 1)).
- `bytes`: fill-in and maths: minus the gold answer's negative log-likelihood per UTF-8 byte of
  the gold text, over the answer's own tokens: the end-of-turn token after it is left out, so a
  model that only learned where answers stop scores as one that did not. No chance level: a
  likelihood has no guessing rate.

An ability's continuous score is the mean over its items of one family: the family most of its
items have (ties: option, margin, bytes), since the families are on different scales. The items
of any other family count in accuracy only; how many items the score covers is recorded.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

FAMILIES = ("option", "margin", "bytes")


def option_probability(logprobs: Mapping[str, float], gold: str) -> float:
    """The gold option's probability renormalised over the item's options."""
    if gold not in logprobs:
        raise ValueError(f"gold option {gold!r} is not among the options {sorted(logprobs)}")
    top = max(logprobs.values())
    weights = {option: math.exp(value - top) for option, value in logprobs.items()}
    return weights[gold] / math.fsum(weights.values())


def letter_sets(gold: str, offered: str) -> list[str] | None:
    """Every non-empty set of the offered letters, written as the gold is (sorted bare letters),
    the gold first; None when the gold is not such a set."""
    if not re.fullmatch(f"[{offered}]+", gold) or "".join(sorted(set(gold))) != gold:
        return None
    sets = ["".join(c) for k in range(1, len(offered) + 1) for c in itertools.combinations(offered, k)]
    return [gold, *(other for other in sets if other != gold)]


def distractor_margin(mean_nll: Sequence[float]) -> float:
    """mean_nll: gold first, then its distractors (per token, as the perplexity ranking uses)."""
    if len(mean_nll) < 2:
        raise ValueError("a margin needs the gold and at least one distractor")
    return min(mean_nll[1:]) - mean_nll[0]


def nll_per_byte(mean_nll: float, tokens: int, gold: str) -> float:
    """Minus the gold's total negative log-likelihood (mean per token x tokens) per byte of its text."""
    size = len(gold.encode("utf-8"))
    if size == 0:
        raise ValueError("an empty gold answer has no bytes to score")
    return -mean_nll * tokens / size


def chance(family: str) -> float | None:
    """The reference level of `margin` (0) and `bytes` (none); `option`'s is the item's own chance
    of a guess among its options, accuracy's random baseline (evaluation.random_baseline)."""
    if family == "option":
        raise ValueError("an option score's chance depends on the item: use its random baseline")
    return 0.0 if family == "margin" else None


def ability_family(families: Sequence[str]) -> str:
    """The family most items have; ties go to the earlier of FAMILIES."""
    counts = Counter(families)
    return max(FAMILIES, key=lambda family: (counts[family], -FAMILIES.index(family)))


def summarise_continuous(scores: Sequence[float], families: Sequence[str], chances: Sequence) -> dict:
    """An ability's continuous score over the items of its family: the mean, its chance level (mean
    of the items' chances, None for `bytes`), the family and how many items it covers."""
    family = ability_family(families)
    kept = [k for k, f in enumerate(families) if f == family]
    level = None if family == "bytes" else math.fsum(chances[k] for k in kept) / len(kept)
    return {
        "continuous": math.fsum(scores[k] for k in kept) / len(kept),
        "continuous_random": level,
        "continuous_family": family,
        "continuous_items": len(kept),
    }
