"""Distractors for format-1 (open-ended) items, as in the paper's comparison-with-distractors:

- fine-grained: the gold with one or two small edits to a number, an operator, a term or a pair of
  characters, so it tests modelling of details;
- coarse-grained: a fluent answer to a different instruction of the same ability, so it tests
  instruction following.
"""

from __future__ import annotations

import random
import re

from doit_study.core.schema import Item

# Operators and terms the fine-grained corruption may flip, each to its counterpart.
_SWAPS = (
    ("==", "!="),
    ("!=", "=="),
    ("<=", ">="),
    (">=", "<="),
    (" < ", " > "),
    (" > ", " < "),
    (" + ", " - "),
    (" - ", " + "),
    (" * ", " // "),
    (" and ", " or "),
    (" or ", " and "),
    ("True", "False"),
    ("False", "True"),
    ("max(", "min("),
    ("min(", "max("),
    ("大", "小"),
    ("小", "大"),
    ("多", "少"),
    ("少", "多"),
    ("高", "低"),
    ("低", "高"),
    ("上", "下"),
    ("下", "上"),
    ("前", "后"),
    ("后", "前"),
    ("快", "慢"),
    ("慢", "快"),
    ("长", "短"),
    ("短", "长"),
    ("早", "晚"),
    ("晚", "早"),
    ("新", "旧"),
    ("好", "坏"),
    ("增加", "减少"),
    ("减少", "增加"),
)
_DIGIT = re.compile(r"\d")
_CJK_PAIR = re.compile(r"(?=([\u4e00-\u9fff])([\u4e00-\u9fff]))")
MAX_EDITS = 2
COARSE_DRAWS = 8


def _edit_number(text: str, rng: random.Random) -> str | None:
    spots = [m.start() for m in _DIGIT.finditer(text)]
    if not spots:
        return None
    spot = rng.choice(spots)
    digit = rng.choice([d for d in "0123456789" if d != text[spot]])
    return text[:spot] + digit + text[spot + 1 :]


def _edit_operator_or_term(text: str, rng: random.Random) -> str | None:
    spots = [(m.start(), old, new) for old, new in _SWAPS for m in re.finditer(re.escape(old), text)]
    if not spots:
        return None
    start, old, new = rng.choice(sorted(spots))
    return text[:start] + new + text[start + len(old) :]


def _edit_characters(text: str, rng: random.Random) -> str | None:
    spots = [m.start() for m in _CJK_PAIR.finditer(text) if m.group(1) != m.group(2)]
    if not spots:
        return None
    spot = rng.choice(spots)
    return text[:spot] + text[spot + 1] + text[spot] + text[spot + 2 :]


def fine_grained(gold: str, rng: random.Random) -> str | None:
    """The gold after 1-2 small edits, preferring numbers, operators and terms; None if none apply.
    In an answer with a code block only the code is edited, not the sentence that introduces it."""
    fence = gold.find("```")
    head, text = (gold[:fence], gold[fence:]) if fence >= 0 else ("", gold)
    body = text
    for _ in range(rng.randint(1, MAX_EDITS)):
        for edit in [*rng.sample((_edit_number, _edit_operator_or_term), 2), _edit_characters]:
            changed = edit(text, rng)
            if changed is not None and changed != body:
                text = changed
                break
    return head + text if text != body else None


def coarse_grained(item: Item, pool: list[Item], rng: random.Random) -> str | None:
    """The gold of another item of the same ability: fluent, but answers another instruction."""

    def usable(other: Item) -> bool:
        return other.gold.strip() != item.gold.strip() and other.prompt_text != item.prompt_text

    for _ in range(COARSE_DRAWS):  # a random draw almost always qualifies: no O(pool) scan per item
        other = rng.choice(pool)
        if usable(other):
            return other.gold
    others = [other.gold for other in pool if usable(other)]
    return rng.choice(others) if others else None


def with_distractors(item: Item, pool: list[Item], rng: random.Random) -> Item | None:
    """The item with choices [gold, fine, coarse]; None when no distinct distractors can be made."""
    fine = fine_grained(item.gold, rng)
    coarse = coarse_grained(item, pool, rng)
    if fine is None or coarse is None or len({item.gold, fine, coarse}) < 3:
        return None
    return item.model_copy(update={"choices": [item.gold, fine, coarse]})
