"""Ethics multi-select questions composed from a labelled table of conduct (ethics_norms.yaml)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from importlib import resources

import yaml

from doit_study.core.schema import AnswerKind, Item
from doit_study.items.option_lists import LETTERS, options_block
from doit_study.items.sources.builtin.common import generator_source, make_item


def load_norms() -> tuple[list[str], list[str]]:
    text = (
        resources.files("doit_study.items.sources.builtin")
        .joinpath("ethics_norms.yaml")
        .read_text(encoding="utf-8")
    )
    table = yaml.safe_load(text)
    return list(table["proper"]), list(table["improper"])


def build_ethics(rng: random.Random) -> Iterator[Item]:
    proper, improper = load_norms()
    for _ in itertools.count():
        asks_proper = rng.random() < 0.5
        wanted, others = (proper, improper) if asks_proper else (improper, proper)
        n_wanted = rng.randint(1, 3)
        chosen = [(text, True) for text in rng.sample(wanted, n_wanted)]
        chosen += [(text, False) for text in rng.sample(others, 4 - n_wanted)]
        rng.shuffle(chosen)
        gold = "".join(LETTERS[i] for i, (_, hit) in enumerate(chosen) if hit)
        question = "以下哪些做法是恰当的？" if asks_proper else "以下哪些做法是不恰当的？"
        prompt = (
            f"{question}（多选）\n{options_block([text for text, _ in chosen])}\n"
            "请在最后一行写出所有正确选项的字母。"
        )
        key = "|".join(text for text, _ in chosen)
        yield make_item("ethics", [(prompt, gold)], AnswerKind.multi_letter, generator_source("ethics", key))
