"""Helpers the builtin item builders share: seeded randomness, option lists, item records."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence

from doit_study.schema import AnswerKind, Item, Message, Source

LETTERS = "ABCDEF"
GENERATOR_VERSION = "1"  # bump when a generator's output changes on purpose


def rng_for(seed: int, name: str) -> random.Random:
    """An independent, reproducible random stream per (seed, builder)."""
    return random.Random(f"{seed}:{name}")


def options_block(options: Sequence[str]) -> str:
    return "\n".join(f"{LETTERS[index]}. {option}" for index, option in enumerate(options))


def shuffled_options(rng: random.Random, gold: str, wrong: Sequence[str]) -> tuple[list[str], str]:
    """Place the gold among the wrong options at a random position; return options and gold letter."""
    options = [gold, *wrong]
    rng.shuffle(options)
    return options, LETTERS[options.index(gold)]


def pick_distinct(rng: random.Random, pool: Sequence[str], k: int, exclude: str) -> list[str] | None:
    """k distinct values from pool, none equal to `exclude`; None when the pool is too small."""
    candidates = sorted({value for value in pool if value != exclude})
    if len(candidates) < k:
        return None
    return rng.sample(candidates, k)


def make_item(
    ability: str,
    turns: Sequence[tuple[str, str]],
    kind: AnswerKind,
    source: tuple[str, str, str],
    *,
    question_format: int = 0,
    answer: str | None = None,
) -> Item:
    """An item from (user, assistant) turn pairs; the last assistant content is the gold."""
    messages = []
    for user, assistant in turns:
        messages += [Message(role="user", content=user), Message(role="assistant", content=assistant)]
    name, version, key = source
    return Item(
        messages=messages,
        type=ability,
        question_format=question_format,
        answer=answer,
        answer_kind=kind,
        source=Source(name=name, version=version, key=key),
    )


def generator_source(ability: str, key: str) -> tuple[str, str, str]:
    return (f"generator:{ability}", GENERATOR_VERSION, key)


def letter_items_round_robin(ability: str, makers: Sequence, rng: random.Random) -> Iterator[Item]:
    """An endless stream of letter-answer items, one maker after another; a maker returns
    (prompt, gold letter, question key) or None when its draw cannot make a question."""
    for index in itertools.count():
        made = makers[index % len(makers)](rng)
        if made is not None:
            prompt, letter, key = made
            yield make_item(ability, [(prompt, letter)], AnswerKind.letter, generator_source(ability, key))
