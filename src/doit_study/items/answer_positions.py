"""Where the gold answers of lettered option sets sit: a set whose gold letters are not spread
evenly over the offered positions can be scored above chance by a model that only learned the
position ("statement is always A"), so `annotate` reports every set's distribution and refuses a
set that the builders made uneven."""

from __future__ import annotations

import re
from collections.abc import Iterable

from scipy.stats import chisquare

from doit_study.core.schema import AnswerKind, Item
from doit_study.items.option_lists import LETTERS

_OPTION_LINE = re.compile(rf"^([{LETTERS}])[.．、]\s", re.MULTILINE)


def offered_letters(prompt: str) -> str:
    """The option letters a prompt lists, in order ("ABCD"); empty when it lists none."""
    return "".join(_OPTION_LINE.findall(prompt))


def gold_positions(item: Item) -> list[tuple[str, str]]:
    """(offered letters, gold letters) for every turn of an item answered by letters from a list in
    its prompt; a multi-letter gold counts each of its letters."""
    if item.answer_kind not in (AnswerKind.letter, AnswerKind.multi_letter):
        return []
    turns = []
    for question, answer in zip(item.messages[::2], item.messages[1::2], strict=True):
        offered = offered_letters(question.content)
        gold = answer.content.strip()
        if offered and gold and set(gold) <= set(offered):
            turns.append((offered, gold))
    return turns


def position_balance(items: Iterable[Item]) -> dict | None:
    """Counts of gold letters against what uniform positions give (each turn spreads 1 over its
    offered letters, a multi-letter gold its size), and the chi-square p of that fit; None when the
    set has no lettered options."""
    observed: dict[str, float] = {}
    expected: dict[str, float] = {}
    for item in items:
        for offered, gold in gold_positions(item):
            for letter in offered:
                expected[letter] = expected.get(letter, 0.0) + len(gold) / len(offered)
                observed.setdefault(letter, 0.0)
            for letter in gold:
                observed[letter] += 1
    if not expected:
        return None
    letters = sorted(expected)
    counts = [observed[letter] for letter in letters]
    means = [expected[letter] for letter in letters]
    p = float(chisquare(counts, means).pvalue) if len(letters) > 1 else 1.0
    return {
        "observed": {letter: int(observed[letter]) for letter in letters},
        "expected": {letter: round(expected[letter], 2) for letter in letters},
        "p_uniform": p,
    }


def unbalanced_sets(splits: dict[str, dict[str, list[Item]]], min_p: float) -> dict[str, dict]:
    """Every split/set's gold-letter balance, and the names of the sets below `min_p`."""
    balance = {
        f"{split}/{name}": found
        for split, sets in sorted(splits.items())
        for name, items in sorted(sets.items())
        if (found := position_balance(items)) is not None
    }
    failing = sorted(name for name, found in balance.items() if found["p_uniform"] < min_p)
    return {"sets": balance, "min_p": min_p, "failing": failing}


def letter_balance(golds: Iterable[str], offered: str) -> dict:
    """One suite's gold letters over its `offered` positions, against uniform (reported, never
    changed: a released suite is scored as published)."""
    golds = list(golds)
    observed = [sum(gold == letter for gold in golds) for letter in offered]
    p = float(chisquare(observed).pvalue) if golds else 1.0
    return {"observed": dict(zip(offered, observed, strict=True)), "p_uniform": p}
