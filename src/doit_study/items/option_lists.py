"""Lettered option lists, shared by the builtin item builders and the benchmarks."""

from __future__ import annotations

import random
from collections.abc import Sequence

LETTERS = "ABCDEF"


def options_block(options: Sequence[str]) -> str:
    return "\n".join(f"{LETTERS[index]}. {option}" for index, option in enumerate(options))


def shuffled_options(rng: random.Random, gold: str, wrong: Sequence[str]) -> tuple[list[str], str]:
    """Place the gold among the wrong options at a random position; return options and gold letter."""
    options = [gold, *wrong]
    rng.shuffle(options)
    return options, LETTERS[options.index(gold)]


def gold_at(options: Sequence[str], gold_letter: str, position: int) -> tuple[list[str], str]:
    """The options with the gold swapped into `position`: a set built by rotating its golds through
    the positions has exactly as many of each letter (no answer position to learn)."""
    moved, gold = list(options), LETTERS.index(gold_letter)
    moved[gold], moved[position] = moved[position], moved[gold]
    return moved, LETTERS[position]


def pick_distinct(rng: random.Random, pool: Sequence[str], k: int, exclude: str) -> list[str] | None:
    """k distinct values from pool, none equal to `exclude`; None when the pool is too small."""
    candidates = sorted({value for value in pool if value != exclude})
    if len(candidates) < k:
        return None
    return rng.sample(candidates, k)
