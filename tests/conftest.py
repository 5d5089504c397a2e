from __future__ import annotations

from pathlib import Path

import pytest

from doit_study.schema import AnswerKind, Item, Message, Source

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def make(
    prompt: str,
    gold: str,
    ability: str = "biology",
    kind: AnswerKind = AnswerKind.letter,
    fmt: int = 0,
    **extra,
) -> Item:
    return Item(
        messages=[Message(role="user", content=prompt), Message(role="assistant", content=gold)],
        type=ability,
        question_format=fmt,
        answer_kind=kind,
        source=Source(name="test", version="0", key=prompt[:20]),
        **extra,
    )


@pytest.fixture
def release_dir() -> Path:
    return FIXTURES / "doit_release"
