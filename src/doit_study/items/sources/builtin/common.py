"""Helpers the builtin item builders share: item records and generator provenance (option lists and
seeded randomness come from `doit_study.options`)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence

from doit_study.core.schema import AnswerKind, Item, Message, Source

GENERATOR_VERSION = "1"  # bump when a generator's output changes on purpose


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
